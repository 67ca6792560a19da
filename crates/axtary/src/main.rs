fn main() {
    println!("axtary {}", env!("CARGO_PKG_VERSION"));
}

//! Canaries are fake but well formed, and split with `concat!` so that no complete token
//! appears in the source for secret scanners (GitHub push protection) to flag.

use super::*;

fn detected(text: &str) -> BTreeSet<&'static str> {
    let mut found = BTreeSet::new();
    detect(text, &mut found);
    found
}

#[test]
fn patterns_compile() {
    assert!(ANY.is_some() && EACH.is_some());
}

/// (detector, text that must trigger it, similar text that must not).
#[rustfmt::skip]
const CASES: &[(&str, &str, &str)] = &[
    ("aws_access_key_id",
        concat!("key id: ", "AKIA", "IOSFODNN7EXAMPLE", "\n"),
        concat!("key id: ", "AKIA", "IOSFODNN7EXAMPL", " (15)")),
    ("aws_access_key_id",
        concat!("\"AccessKeyId\": \"", "ASIA", "Y34FZKBOKMUTVV7A", "\""),
        concat!("AKIA", "iosfodnn7example")),
    ("aws_secret_access_key",
        concat!("aws_secret_access_key = ", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY"),
        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}"),
    ("aws_secret_access_key",
        concat!("{\"SecretAccessKey\": \"", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY", "\"}"),
        concat!("{\"SecretAccessKey\": \"", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKE", "\"}")),
    ("github_token",
        concat!("token ", "gh", "p_", "0123456789abcdefghij", "ABCDEFGHIJklmnop"),
        concat!("token ", "gh", "x_", "0123456789abcdefghij", "ABCDEFGHIJklmnop")),
    ("github_token",
        concat!("gh", "s_", "0123456789abcdefghij", "ABCDEFGHIJklmnop"),
        concat!("gh", "p_", "0123456789abcdefghij", "ABCDEF")),
    ("github_token",
        concat!("github_", "pat_", "11ABCDEFG0123456789_", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab"),
        concat!("github_", "pat_", "11ABCDEFG0123456789_", "abc")),
    ("slack_token",
        concat!("xo", "xb-", "123456789012-1234567890123-", "AbCdEfGhIjKlMnOpQrStUvWx"),
        concat!("xo", "xz-", "123456789012-1234567890123-", "AbCdEfGhIjKlMnOpQrStUvWx")),
    ("slack_webhook",
        concat!("https://hooks.slack.com/", "services/T00000000/", "B00000000/", "XXXXXXXXXXXXXXXXXXXXXXXX"),
        "see https://hooks.slack.com/services/ for webhooks"),
    ("private_key",
        concat!("-----BEGIN ", "RSA PRIVATE KEY-----\nMIIEow...\n"),
        "-----BEGIN PUBLIC KEY-----\nMIIBIj...\n"),
    ("private_key",
        concat!("-----BEGIN ", "OPENSSH PRIVATE KEY-----"),
        "-----BEGIN CERTIFICATE-----"),
    ("private_key",
        concat!("-----BEGIN ", "PGP PRIVATE KEY BLOCK-----"),
        "-----BEGIN PGP PUBLIC KEY BLOCK-----"),
    ("stripe_key",
        concat!("sk", "_live_", "4eC39HqLyjWDarjtT1zdp7dc"),
        concat!("sk", "_test_", "4eC39HqLyjWDarjtT1zdp7dc")),
    ("stripe_key",
        concat!("rk", "_live_", "4eC39HqLyjWDarjtT1zdp7dcXY"),
        concat!("rk", "_live_", "4eC39Hq")),
    ("google_api_key",
        concat!("key=", "AI", "za", "SyA-1234567890abcdefghijklmnopqrstu"),
        concat!("key=", "AI", "za", "SyA-1234567890")),
    ("openai_api_key",
        concat!("OPENAI=", "sk-", "proj-", "abcdefghijklmnopqrstuvwxyz0123456789_-ABCDEFGH"),
        concat!("sk-", "proj-", "abc")),
    ("openai_api_key",
        concat!("sk-", "abcdefghijklmnopqrstuvwx", "ABCDEFGHIJKLMNOPQRSTUVWX"),
        "ssh-keygen -t ed25519 && task-runner --sk-abcdef"),
    ("anthropic_api_key",
        concat!("x-api-key: ", "sk-", "ant-", "api03-", "abcdefghijklmnopqrstuvwxyz0123456789ABCD"),
        concat!("sk-", "ant-", "api03-", "short")),
    ("jwt",
        concat!("Authorization: Bearer ", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", ".", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ", ".", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
        "header eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 alone"),
    ("linear_api_key",
        concat!("lin", "_api_", "abcdefghijklmnopqrst", "ABCDEFGHIJ0123456789"),
        concat!("lin", "_api_", "abcdefghijklmnopqrst", "ABCDEFGHIJ012345678")),
    ("generic_high_entropy",
        "DB_PASSWORD=Xk9mP2vL7qR4nT8wZ3bY",
        "DB_PASSWORD=changeme"),
    ("generic_high_entropy",
        r#"{"api_key": "a8F3kL9qZ2xP7mN4vB6cR1tY"}"#,
        r#"{"api_key": "aaaaaaaaaaaaaaaaaaaaaaaa1"}"#),
    ("generic_high_entropy",
        "client_secret: 9fJ2kLm4Qp8Rz7Xw3Vn6Bt1Y",
        "client_secret: string"),
    ("generic_high_entropy",
        "export SERVICE_TOKEN='Zq7#Lp2!Vx9@Mr4$Kt8%'",
        "export SERVICE_TOKEN=\"$(vault read -field=token secret/x)\""),
    ("generic_high_entropy",
        "password => 'N7v!pQ2z#Lk9@xR4&mW8'",
        "password => params[:password]"),
    ("generic_high_entropy",
        "apiKey: \"q8Rt5Wm2Zx7Kp4Ln9Vb3\"",
        "tokenizer_path = \"/models/v2/tokenizer_2024.json\""),
];

#[test]
fn each_detector_has_a_positive_and_a_negative() {
    let mut failures = Vec::new();
    for (name, positive, negative) in CASES {
        if !detected(positive).contains(name) {
            failures.push(format!("{name} missed: {positive:?}"));
        }
        if detected(negative).contains(name) {
            failures.push(format!("{name} false positive: {negative:?}"));
        }
    }
    let covered: BTreeSet<&str> = CASES.iter().map(|(name, _, _)| *name).collect();
    for name in DETECTORS.iter().map(|(name, _)| *name).chain([GENERIC]) {
        if !covered.contains(name) {
            failures.push(format!("{name} has no case"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn anthropic_key_is_not_also_an_openai_key() {
    let text = concat!(
        "sk-",
        "ant-",
        "api03-",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDabcdefghijklmnop"
    );
    assert_eq!(detected(text), BTreeSet::from(["anthropic_api_key"]));
}

#[test]
fn ordinary_code_and_prose_trigger_nothing() {
    let texts = [
        "password = input()",
        "token: string",
        "let token = tokenizer.next_token()?;",
        "const password = process.env.DB_PASSWORD;",
        "token = os.environ[\"GITHUB_TOKEN\"]",
        "password: ${{ secrets.DB_PASSWORD }}",
        "token = request.headers.get(\"Authorization\")",
        "Reset your password: click the link in the email we sent you.",
        "The secret to good tokens: never log them, rotate them every 90 days.",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "token=3f786850e387550fdab836ed7e6dc881de23001b",
        "request id 123e4567-e89b-12d3-a456-426614174000",
        "api_key: 123e4567-e89b-12d3-a456-426614174000",
        "token_count = 12345678901234567890123456",
        "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
        "thumbnail = \"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ\"",
        "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAYEBQYFBAYGBQYGBwkIBwcHBwgJCQkICQgKCgoKCg",
        "fn main() { let secret_sauce = recipe.secret_sauce(); println!(\"{secret_sauce}\"); }",
        "SELECT * FROM users WHERE password_hash = $1 AND api_key_id = $2",
        "-----BEGIN PUBLIC KEY-----",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "",
    ];
    for text in texts {
        assert_eq!(detected(text), BTreeSet::new(), "{text:?}");
    }
}

#[test]
fn secrets_are_found_inside_large_texts() {
    let filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit.\n".repeat(40_000);
    let text = format!("{filler}{} {filler}", concat!("AKIA", "IOSFODNN7EXAMPLE"));
    assert!(text.len() > 1 << 20);
    assert_eq!(detected(&text), BTreeSet::from(["aws_access_key_id"]));
}

#[test]
fn several_detectors_in_one_text_are_all_reported() {
    let text = concat!(
        "AKIA",
        "IOSFODNN7EXAMPLE",
        " and ",
        "-----BEGIN ",
        "EC PRIVATE KEY-----",
        " and ",
        "lin",
        "_api_",
        "abcdefghijklmnopqrst",
        "ABCDEFGHIJ0123456789",
    );
    assert_eq!(
        detected(text),
        BTreeSet::from(["aws_access_key_id", "linear_api_key", "private_key"])
    );
}

#[test]
fn generic_scan_stays_linear_on_repeated_assignments() {
    // Each `=` is preceded by a secret-sounding name and followed by a long run of value
    // characters; without the cap on value length this is quadratic.
    let text = "token=".repeat(20_000);
    let start = std::time::Instant::now();
    assert!(!detected(&text).contains(GENERIC));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn entropy_of_uniform_and_constant_bytes() {
    assert!(shannon_entropy(b"aaaaaaaa").abs() < 1e-9);
    assert!((shannon_entropy(b"abcdefgh") - 3.0).abs() < 1e-9);
    assert!(shannon_entropy(b"").abs() < 1e-9);
}

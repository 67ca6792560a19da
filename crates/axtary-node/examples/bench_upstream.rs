//! A minimal HTTP upstream for `benches/http/run.sh`: answers `{"ok":true}` to every request,
//! on the address given as the first argument (default 127.0.0.1:0), printing
//! `listening on http://ADDR` first. Fast enough that the daemon, not the upstream, is what a
//! benchmark measures.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;

async fn answer() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"ok\":true}",
    )
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let app = Router::new().fallback(answer);
        axum::serve(listener, app).await
    })
}

//! `sallyport backend`: a test tool, not part of the product. Serves the sample backends of
//! [`sallyport::demo::backends`] on chosen addresses until killed, so that scripts (the
//! network-namespace testbed, benches) can stand up corporate systems without extra tools.

use sallyport::demo::backends::{self, Backend};

/// Arguments of `sallyport backend`.
#[derive(clap::Args)]
pub struct Args {
    /// Serve the sample HTTP backend on `ADDR` (`host:port`, repeatable). It answers every
    /// request with 200 and a JSON echo of method, path, host and body length; `GET /bytes/N`
    /// answers N bytes; `GET /slow` never answers.
    #[arg(long = "http", value_name = "ADDR")]
    http: Vec<String>,
    /// Serve the TCP echo backend on `ADDR` (`host:port`, repeatable).
    #[arg(long = "echo", value_name = "ADDR")]
    echo: Vec<String>,
}

pub fn run(a: Args) -> Result<(), String> {
    if a.http.is_empty() && a.echo.is_empty() {
        return Err("backend: nothing to serve; give --http ADDR and/or --echo ADDR".into());
    }
    let mut running: Vec<Backend> = Vec::new();
    for addr in &a.http {
        let b = backends::http_backend_on(addr.as_str())
            .map_err(|e| format!("backend --http {addr}: cannot listen: {e}"))?;
        tracing::info!(addr = %b.addr, "HTTP test backend listening");
        running.push(b);
    }
    for addr in &a.echo {
        let b = backends::tcp_echo_backend_on(addr.as_str())
            .map_err(|e| format!("backend --echo {addr}: cannot listen: {e}"))?;
        tracing::info!(addr = %b.addr, "TCP echo test backend listening");
        running.push(b);
    }
    // The accept loops run on their own threads; this one only keeps the process alive.
    loop {
        std::thread::park();
    }
}

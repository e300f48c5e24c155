//! A boot node's HTTP side: `/status` through the boot node's loop, `/metrics` from the
//! registry.

use super::*;

/// The boot node's routes: `GET /status` (answered by the machine, through the loop) and
/// `GET /metrics`.
pub fn routes(status: mpsc::Sender<StatusRequest>, metrics: MetricsExporter) -> Responder {
    Arc::new(move |req| {
        match (req.method().as_str(), req.uri().path()) {
            ("GET", "/status") => {
                let mut status = status.clone();
                async move {
                    let (tx, rx) = oneshot::channel();
                    // Full, or the loop is gone: say so instead of waiting.
                    if status.try_send(tx).is_err() {
                        return busy();
                    }
                    match rx.await {
                        Ok(body) => response(200, "application/json", body),
                        Err(_) => busy(),
                    }
                }
                .boxed()
            }
            ("GET", "/metrics") => {
                let body = metrics.render().into_bytes();
                let content = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                futures::future::ready(response(200, content, body)).boxed()
            }
            (_, "/status" | "/metrics") => {
                futures::future::ready(response(405, "text/plain", b"use GET\n".to_vec())).boxed()
            }
            _ => {
                futures::future::ready(response(404, "text/plain", b"not found\n".to_vec())).boxed()
            }
        }
    })
}

fn busy() -> Response<Full<Bytes>> {
    response(503, "text/plain", b"the boot node is busy\n".to_vec())
}

//! A helper of the runtimes bench (`just bench-runtimes`), not an example to copy: the tokio
//! adapter measured in a process of its own (it is built on libp2p 0.57, the others on 0.55).
//! It starts a boot node on tokio, prints `ready`, and for every line `round` on stdin runs
//! one cold and one warm start against it and prints the round's milestones as one line
//! (`pyrsia_boot_conformance::rounds`), until stdin closes.
#![allow(clippy::print_stdout)]

use std::io::BufRead;
use std::time::Instant;

use pyrsia_boot_conformance::rounds::{client_config, cold_then_warm, drive, to_line};
use pyrsia_boot_libp2p::BootNodeConfig;
use pyrsia_boot_tokio::libp2p::identity::Keypair;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let boot = runtime
        .block_on(pyrsia_boot_tokio::start_boot_node(
            Keypair::generate_ed25519(),
            "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
            ([127, 0, 0, 1], 0).into(),
            BootNodeConfig {
                private_network: true,
                ..BootNodeConfig::default()
            },
        ))
        .expect("tokio boot node");
    let url = boot.status_url();
    let state =
        std::env::temp_dir().join(format!("pyrsia-boot-rounds-{}.json", std::process::id()));
    println!("ready");
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        if line.trim() != "round" {
            continue;
        }
        let (cold, warm) = cold_then_warm(&state, |snapshot| {
            runtime.block_on(async {
                let start = Instant::now();
                let (driver, swarm) = pyrsia_boot_tokio::client(
                    Keypair::generate_ed25519(),
                    client_config(&url, snapshot),
                    "/ip4/127.0.0.1/tcp/0".parse().expect("valid"),
                )
                .await
                .expect("client starts");
                drive(start, driver, swarm).await
            })
        });
        println!("{}", to_line(&cold, &warm));
    }
    let _ = std::fs::remove_file(&state);
}

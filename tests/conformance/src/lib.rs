//! The conformance suite: every end-to-end scenario written once, run against each runtime
//! adapter with real swarms and real HTTP servers on loopback.
//!
//! An adapter's test target implements [`Adapter`] (a handful of one-line delegations to the
//! adapter's public API) and expands [`suite!`], which makes one `#[test]` per scenario. A
//! scenario added to [`scenarios`] and to the list in [`suite!`] runs on every adapter.

#![forbid(unsafe_code)]

mod autonat_v2;
mod cancel;
mod dial_back;
pub mod dns;
pub mod harness;
mod js;
pub mod rounds;
pub mod scenarios;

use pyrsia_boot_libp2p::libp2p;
use std::future::Future;
use std::net::SocketAddr;

use futures::stream::BoxStream;
use futures::{AsyncRead, AsyncWrite};
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{Multiaddr, Swarm};
use pyrsia_boot_core::Config;
use pyrsia_boot_libp2p::{Behaviour, BootNodeConfig, BootNodeHandle, Driver, Runtime, StartError};

/// Accepted connections and their peers' addresses.
pub type Accepted<C> = BoxStream<'static, std::io::Result<(C, SocketAddr)>>;

/// What a runtime adapter gives the suite. Every method is the adapter's own public API; the
/// suite adds nothing runtime-specific.
pub trait Adapter: 'static {
    /// The adapter's driver runtime.
    type Runtime: Runtime;
    /// An accepted HTTP connection.
    type Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Whether the adapter's HTTP client reads an HTTP/1.0 response (surf's does not).
    const READS_HTTP_1_0: bool;

    /// The adapter's embedding example (built by `cargo test` into `target/<profile>/examples`):
    /// pyrsia-boot inside the user's own swarm, given a boot URL as its argument.
    const EMBED_EXAMPLE: &'static str;

    /// The runtime's value.
    fn runtime() -> Self::Runtime;

    /// Runs `future` to completion on the runtime.
    fn block_on<T>(future: impl Future<Output = T>) -> T;

    /// A bootstrapping node (driver and listening swarm).
    fn client(
        key: Keypair,
        config: Config,
        listen: Multiaddr,
    ) -> impl Future<Output = Result<(Driver<Self::Runtime>, Swarm<Behaviour>), StartError>>;

    /// A boot node on this runtime.
    fn start_boot_node(
        key: Keypair,
        listen: Multiaddr,
        http: SocketAddr,
        config: BootNodeConfig,
    ) -> impl Future<Output = Result<BootNodeHandle, StartError>>;

    /// A bound TCP listener's address and the connections it accepts, with their peers.
    fn bind_http(
        addr: SocketAddr,
    ) -> impl Future<Output = std::io::Result<(SocketAddr, Accepted<Self::Conn>)>>;

    /// A swarm running someone else's `behaviour` on this runtime's TCP + noise + yamux.
    fn swarm<B: NetworkBehaviour>(key: &Keypair, behaviour: B) -> Swarm<B>;
}

/// One `#[test]` per scenario for the adapter type given.
#[macro_export]
macro_rules! suite {
    // Where the client runs AutoNAT v2's client (libp2p 0.57; 0.55's loops forever on a wrong
    // nonce, rust-libp2p#5816, so it is off there).
    (v2_client $adapter:ty) => {
        $crate::suite!(@tests $adapter;
            a_v2_only_boot_peer_gives_our_client_a_verdict,
            our_client_gets_a_verdict_from_a_js_libp2p_v2_server,
        );
    };
    ($adapter:ty) => {
        $crate::suite!(@tests $adapter;
            a_client_connects_through_a_boot_node_and_learns_it_is_reachable,
            a_dead_first_url_falls_through_to_a_live_one,
            a_500_from_the_first_url_falls_through_to_the_second,
            a_500_then_a_good_document_from_the_same_url_connects,
            a_garbage_body_then_a_good_document_connects,
            one_dead_boot_peer_of_three_is_skipped,
            a_killed_boot_node_makes_the_client_bootstrap_again_through_another,
            every_source_dead_gives_up_naming_each_one,
            our_client_works_with_a_document_of_only_the_three_pyrsia_fields,
            a_pyrsia_style_client_works_against_our_boot_node,
            a_dns_boot_address_is_resolved_and_dialed,
            cluster_members_list_each_others_load,
            a_restart_with_a_state_file_connects_through_the_cached_peer,
            the_embedding_example_connects_through_a_boot_node,
            the_embedding_example_shows_its_usage_and_refuses_a_typo,
            a_boot_node_refuses_connections_past_its_per_ip_limit,
            the_status_server_caps_connections_and_their_lifetime,
            hostile_documents_fail_with_their_cause_and_the_next_source_is_used,
            misbehaving_http_servers_fail_in_bounded_time_and_the_next_source_is_used,
            with_trusted_keys_only_the_operators_signed_list_is_used,
            a_boot_node_advertising_no_address_still_makes_its_peers_fully_connected,
            a_static_file_server_that_takes_only_origin_form_targets_is_used,
            a_server_that_answers_ok_without_dialing_back_does_not_make_the_client_public,
            a_dial_request_naming_another_peer_is_answered_bad_request,
            a_server_that_dials_back_from_another_identity_makes_the_client_public,
            a_boot_peer_that_never_asks_but_answers_ours_makes_the_client_connected,
            the_runtime_dials_from_a_chosen_source_address,
            a_verified_public_verdict_reaches_the_swarms_external_addresses,
            next_dropped_at_random_points_still_connects_with_a_verdict,
            an_own_select_loop_on_the_event_driven_api_connects_while_dropping_wait,
            a_dnsaddr_boot_address_is_followed_through_a_local_nameserver,
            a_v2_only_boot_peer_makes_the_client_fully_connected,
            a_v2_only_client_gets_a_verdict_from_our_boot_node,
            a_v2_result_our_boot_node_could_not_dial_back_reads_as_unreachable,
            a_js_libp2p_v2_client_gets_a_verdict_from_our_boot_node,
            a_js_libp2p_v2_only_boot_node_makes_our_client_fully_connected,
        );
    };
    (@tests $adapter:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::scenarios::$name::<$adapter>();
            }
        )*
    };
}

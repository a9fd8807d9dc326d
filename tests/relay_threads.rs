//! The relay spreads connectors' tunnels over its threads, and requests work whichever
//! thread accepted the caller: on a tunnel of that thread (local) or bridged to another.

use sallyport::demo::{self, client, socks, StackOptions, TENANT};
use sallyport::proto::socks5::Address;
use sallyport::relay::front::DEFAULT_LOCATION;

fn spread(tunnels: usize) -> Vec<usize> {
    let stack = demo::start(&StackOptions {
        tunnels,
        relay_threads: 2,
        ..StackOptions::default()
    })
    .expect("demo stack starts");
    stack.registry.tunnels_per_thread(TENANT, DEFAULT_LOCATION)
}

#[test]
fn two_tunnels_land_on_two_threads() {
    // Without placement both often land on the thread that won the accept race.
    assert_eq!(spread(2), vec![1, 1]);
}

#[test]
fn four_tunnels_land_two_per_thread() {
    assert_eq!(spread(4), vec![2, 2]);
}

#[test]
fn one_tunnel_serves_callers_of_both_threads() {
    let stack = demo::start(&StackOptions {
        tunnels: 1,
        relay_threads: 2,
        ..StackOptions::default()
    })
    .expect("demo stack starts");
    assert_eq!(
        stack.registry.tunnels_per_thread(TENANT, DEFAULT_LOCATION),
        vec![1]
    );
    // Fresh connections spread over both relay threads' accepts. Every request must work
    // whichever thread took it.
    let target = Address::Domain("ldap.virtual".into());
    for i in 0..30u8 {
        let url = format!("http://erp.virtual/threads/{i}");
        let (status, _) = client::get(stack.proxy, &url, &[]).expect("HTTP through the proxy");
        assert_eq!(status, 200, "request {i}");
        let mut sock =
            socks::open(stack.socks, socks::SocksAuth::Nothing, &target, 389).expect("SOCKS5");
        let payload = [i; 100];
        let back = socks::echo_to_close(&mut sock, &payload).expect("echo");
        assert_eq!(back, payload, "SOCKS5 echo {i}");
    }
    let counts = stack.registry.open_counts();
    assert_eq!(counts.local + counts.remote, 60, "{counts:?}");
    // Both threads accept in turn (30/30 under io_uring). A SOCKS5 connection on the thread
    // without the tunnel moves to the tunnel's thread before its stream opens; an HTTP proxy
    // connection stays and bridges. So both paths carried requests, and no SOCKS5 stream was
    // bridged.
    assert!(counts.moved > 0, "{counts:?}");
    assert!(counts.remote > 0, "{counts:?}");
    assert!(counts.remote <= 30, "only HTTP streams bridge: {counts:?}");
    assert_eq!(counts.local, 60 - counts.remote, "{counts:?}");
}

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
    // Both threads accept in turn (30/30 under io_uring). A connection on the thread without
    // the tunnel moves to the tunnel's thread before its stream opens, so every stream was
    // opened locally and none bridged.
    assert_eq!(counts.local, 60, "{counts:?}");
    assert_eq!(counts.remote, 0, "{counts:?}");
    assert!(counts.moved > 0, "{counts:?}");
}

#[test]
fn a_moved_keep_alive_connection_keeps_its_buffered_body_and_serves_more_requests() {
    use std::io::Write;
    let stack = demo::start(&StackOptions {
        tunnels: 1,
        relay_threads: 2,
        ..StackOptions::default()
    })
    .expect("demo stack starts");
    // The two relay threads accept in turn: every other connection lands on the thread
    // without the tunnel and moves, with the body bytes that came along with the head.
    for conn in 0..4 {
        let mut sock = std::net::TcpStream::connect(stack.proxy).expect("connect");
        sock.set_nodelay(true).expect("nodelay");
        let body = vec![b'x'; 3000];
        let mut request = format!(
            "POST http://erp.virtual/upload HTTP/1.1\r\nhost: erp.virtual\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        sock.write_all(&request).expect("send");
        let (status, answer) = client::read_response(&mut sock, false).expect("POST answer");
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 200, "connection {conn}: {answer}");
        assert!(
            answer.contains("\"received\":3000"),
            "connection {conn}: {answer}"
        );
        for i in 0..3 {
            let head =
                format!("GET http://erp.virtual/more/{i} HTTP/1.1\r\nhost: erp.virtual\r\n\r\n");
            let (status, answer) = client::exchange(&mut sock, &head, &[]).expect("GET");
            assert_eq!(status, 200, "connection {conn}, request {i}");
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.contains(&format!("/more/{i}")), "{answer}");
        }
    }
    let counts = stack.registry.open_counts();
    assert_eq!((counts.local, counts.remote), (16, 0), "{counts:?}");
    assert!(counts.moved >= 1, "{counts:?}");
}

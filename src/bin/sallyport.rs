//! The `sallyport` command.

use sallyport::proto::h2::{field, Config, Connection, Event, RequestHead, ResponseHead, Role};
use sallyport::proto::{StreamId, Timestamp};
use std::process::ExitCode;

const USAGE: &str = "\
usage: sallyport <command>

commands:
  demo            run the built-in demonstration
  version         print the version
  help            this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("version" | "--version" | "-V") => {
            println!("sallyport {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("sallyport: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The demonstration. The relay, connector and loopback backends arrive with the end-to-end
/// work; until then the demo shows the tunnel protocol core they are built on: a relay-side
/// HTTP/2 client and a connector-side server exchanging requests in memory.
mod demo {
    use super::*;
    use bytes::{Bytes, BytesMut};

    struct Pair {
        relay: Connection,
        connector: Connection,
        now: Timestamp,
        wire_bytes: usize,
    }

    impl Pair {
        fn pump(&mut self) -> Result<(Vec<Event>, Vec<Event>), String> {
            let (mut to_conn, mut to_relay) = (BytesMut::new(), BytesMut::new());
            let (mut relay_ev, mut conn_ev) = (Vec::new(), Vec::new());
            for _ in 0..100_000 {
                let mut out = Vec::new();
                let a = self.relay.poll_transmit(&mut out, 1 << 20);
                out.iter().for_each(|c| to_conn.extend_from_slice(c));
                out.clear();
                self.connector
                    .recv(&mut to_conn, self.now)
                    .map_err(|e| e.to_string())?;
                let b = self.connector.poll_transmit(&mut out, 1 << 20);
                out.iter().for_each(|c| to_relay.extend_from_slice(c));
                self.relay
                    .recv(&mut to_relay, self.now)
                    .map_err(|e| e.to_string())?;
                self.wire_bytes += a + b;
                while let Some(e) = self.relay.poll_event() {
                    if let Event::Data {
                        stream_id, data, ..
                    } = &e
                    {
                        self.relay.release_capacity(*stream_id, data.len());
                    }
                    relay_ev.push(e);
                }
                while let Some(e) = self.connector.poll_event() {
                    if let Event::Data {
                        stream_id, data, ..
                    } = &e
                    {
                        self.connector.release_capacity(*stream_id, data.len());
                    }
                    conn_ev.push(e);
                }
                if a == 0 && b == 0 {
                    return Ok((relay_ev, conn_ev));
                }
            }
            Err("exchange did not settle".into())
        }
    }

    fn body_of(events: &[Event], id: StreamId) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Data {
                    stream_id, data, ..
                } if *stream_id == id => Some(&data[..]),
                _ => None,
            })
            .collect::<Vec<_>>()
            .concat()
    }

    fn step(n: usize, what: &str, result: Result<String, String>, failed: &mut usize) {
        match result {
            Ok(detail) => println!("  [{n}] {what:<44} ok    {detail}"),
            Err(e) => {
                *failed += 1;
                println!("  [{n}] {what:<44} FAIL  {e}");
            }
        }
    }

    pub fn run() -> ExitCode {
        println!("sallyport demo: the tunnel protocol core (HTTP/2 over the connector's outbound");
        println!("connection), relay as HTTP/2 client, connector as server, in memory.\n");
        let now = Timestamp::ZERO;
        let mut p = Pair {
            relay: Connection::new(Role::Client, Config::default(), now),
            connector: Connection::new(Role::Server, Config::default(), now),
            now,
            wire_bytes: 0,
        };
        let mut failed = 0;
        step(
            1,
            "handshake (preface, SETTINGS, ACKs)",
            p.pump().map(|_| "settled".into()),
            &mut failed,
        );

        let mut get = || -> Result<String, String> {
            let mut head = RequestHead::new("GET", "http", "erp.virtual:443", "/sap/orders?id=7");
            head.fields.push(field("accept", "application/json"));
            let id = p
                .relay
                .send_request(&head, true)
                .map_err(|e| e.to_string())?;
            let (_, conn_ev) = p.pump()?;
            let path = match conn_ev.first() {
                Some(Event::Request { head, .. }) => head.path.clone().unwrap_or_default(),
                other => return Err(format!("connector saw {other:?}")),
            };
            let mut resp = ResponseHead::new(200);
            resp.fields.push(field("content-type", "application/json"));
            p.connector
                .send_response(id, &resp, false)
                .map_err(|e| e.to_string())?;
            p.connector
                .send_data(id, Bytes::from_static(b"{\"order\":7}"), true)
                .map_err(|e| e.to_string())?;
            let (relay_ev, _) = p.pump()?;
            let body = body_of(&relay_ev, id);
            Ok(format!(
                "{} -> 200, {}",
                String::from_utf8_lossy(&path),
                String::from_utf8_lossy(&body)
            ))
        };
        let r = get();
        step(2, "GET through the tunnel", r, &mut failed);

        let mut post = || -> Result<String, String> {
            let head = RequestHead::new("POST", "http", "erp.virtual:443", "/upload");
            let id = p
                .relay
                .send_request(&head, false)
                .map_err(|e| e.to_string())?;
            let size = 8 << 20;
            let body: Bytes = (0..size)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>()
                .into();
            let mut sent = 0;
            let mut received = 0;
            while sent < size {
                let n = p.relay.send_capacity(id).min(size - sent);
                p.relay
                    .send_data(id, body.slice(sent..sent + n), sent + n == size)
                    .map_err(|e| e.to_string())?;
                sent += n;
                let (_, conn_ev) = p.pump()?;
                received += conn_ev
                    .iter()
                    .map(|e| match e {
                        Event::Data { data, .. } => data.len(),
                        _ => 0,
                    })
                    .sum::<usize>();
            }
            p.connector
                .send_response(id, &ResponseHead::new(204), true)
                .map_err(|e| e.to_string())?;
            p.pump()?;
            if received != size {
                return Err(format!("connector received {received} of {size} bytes"));
            }
            Ok(format!("{} MiB streamed under flow control", size >> 20))
        };
        let r = post();
        step(3, "POST 8 MiB body", r, &mut failed);

        let mut connect = || -> Result<String, String> {
            let id = p
                .relay
                .send_request(&RequestHead::connect("ldap.virtual:389"), false)
                .map_err(|e| e.to_string())?;
            p.pump()?;
            p.connector
                .send_response(id, &ResponseHead::new(200), false)
                .map_err(|e| e.to_string())?;
            p.relay
                .send_data(id, Bytes::from_static(b"ping over tcp"), true)
                .map_err(|e| e.to_string())?;
            let (_, conn_ev) = p.pump()?;
            let echoed = Bytes::from(body_of(&conn_ev, id));
            p.connector
                .send_data(id, echoed, true)
                .map_err(|e| e.to_string())?;
            let (relay_ev, _) = p.pump()?;
            Ok(format!(
                "echo '{}'",
                String::from_utf8_lossy(&body_of(&relay_ev, id))
            ))
        };
        let r = connect();
        step(4, "CONNECT stream (tunnelled TCP) echo", r, &mut failed);

        println!(
            "\n{} bytes crossed the simulated tunnel; open streams left: relay {}, connector {}.",
            p.wire_bytes,
            p.relay.open_streams(),
            p.connector.open_streams()
        );
        println!(
            "The relay, connector, TLS and proxy front doors arrive with the end-to-end work;"
        );
        println!("`make test` runs the codec's conformance, interop and hostile-peer suites.");
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            println!("{failed} step(s) failed");
            ExitCode::FAILURE
        }
    }
}

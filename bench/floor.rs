//! The floor of the connect-latency measurement: the same socket hops as a SOCKS5 connect +
//! 64-byte echo through relay and connector, done by the simplest chain that can do them —
//! blocking threads, one persistent TCP connection standing in for the tunnel, fixed-size
//! messages, no TLS, no HTTP/2, no multiplexing — in front of the same echo backend.
//!
//! What it measures is what this machine charges for the topology itself (the SOCKS5 greeting
//! and request round trips, the tunnel hop each way, the connector's TCP connect to the
//! backend, the echo through two more sockets). Sallyport's "added p50" minus this floor's is
//! the cost of sallyport's own work (TLS, HTTP/2, the runtime) on the connection's path.
//!
//! Message layout on the stand-in tunnel: `O` (open: connect to the backend), `K` (connected),
//! then exactly [`ECHO`] bytes each way, then `C` (the client closed: drop the backend).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Payload bytes the floor forwards each way (the bench's echo size).
pub const ECHO: usize = 64;

/// Starts relay and connector stand-ins in front of `backend`; returns the door address (a
/// SOCKS5 method-0x00 door for one connection at a time).
pub fn start(backend: SocketAddr) -> io::Result<SocketAddr> {
    let door = TcpListener::bind("127.0.0.1:0")?;
    let tunnel_listener = TcpListener::bind("127.0.0.1:0")?;
    let connector_end = TcpStream::connect(tunnel_listener.local_addr()?)?;
    let (relay_end, _) = tunnel_listener.accept()?;
    for s in [&connector_end, &relay_end] {
        s.set_nodelay(true)?;
    }
    let addr = door.local_addr()?;
    std::thread::Builder::new()
        .name("floor-relay".into())
        .spawn(move || {
            let mut tunnel = relay_end;
            for client in door.incoming() {
                let Ok(mut client) = client else { continue };
                if let Err(e) = relay_one(&mut client, &mut tunnel) {
                    eprintln!("floor relay: {e}");
                    return;
                }
            }
        })?;
    std::thread::Builder::new()
        .name("floor-connector".into())
        .spawn(move || {
            let mut tunnel = connector_end;
            loop {
                if let Err(e) = connect_one(&mut tunnel, backend) {
                    eprintln!("floor connector: {e}");
                    return;
                }
            }
        })?;
    Ok(addr)
}

/// One SOCKS5 connection (method 0x00, CONNECT to a domain) through the stand-in tunnel.
fn relay_one(client: &mut TcpStream, tunnel: &mut TcpStream) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut greeting = [0u8; 3];
    client.read_exact(&mut greeting)?;
    client.write_all(&[5, 0])?;
    // VER CMD RSV ATYP=3 LEN NAME PORT
    let mut head = [0u8; 5];
    client.read_exact(&mut head)?;
    let mut rest = vec![0u8; usize::from(head[4]) + 2];
    client.read_exact(&mut rest)?;
    tunnel.write_all(b"O")?;
    let mut k = [0u8; 1];
    tunnel.read_exact(&mut k)?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    let mut data = [0u8; ECHO];
    client.read_exact(&mut data)?;
    tunnel.write_all(&data)?;
    tunnel.read_exact(&mut data)?;
    client.write_all(&data)?;
    // Wait for the client's close, then let the connector drop the backend connection.
    let _ = client.read(&mut k);
    tunnel.write_all(b"C")
}

/// The connector's side of one connection: connect, answer, forward the echo, close.
fn connect_one(tunnel: &mut TcpStream, backend: SocketAddr) -> io::Result<()> {
    let mut op = [0u8; 1];
    tunnel.read_exact(&mut op)?;
    let mut conn = TcpStream::connect(backend)?;
    conn.set_nodelay(true)?;
    tunnel.write_all(b"K")?;
    let mut data = [0u8; ECHO];
    tunnel.read_exact(&mut data)?;
    conn.write_all(&data)?;
    conn.read_exact(&mut data)?;
    tunnel.write_all(&data)?;
    tunnel.read_exact(&mut op)?;
    Ok(())
}

//! Accepting connectors' tunnels, and spreading them evenly over the relay's threads.
//!
//! Every thread accepts on the tunnel port, and the kernel wakes whichever thread it likes:
//! two tunnels often land on one thread while the other has none. A front-door connection is
//! fastest on a tunnel of its own thread (see [`super::stream`]), so an uneven spread costs
//! latency on every connection the empty thread accepts, and leaves a core out of the
//! tunnel's TLS work. So each accepted socket goes, before its TLS handshake, to the thread
//! that runs the fewest tunnels (this one on a tie): the socket's descriptor is handed over a
//! channel and adopted by that thread's runtime. The counts include handshakes in progress,
//! and a tunnel's count is released when it ends.

use super::auth::Door;
use super::{AuthCell, Registry, RelayConfig};
use crate::proto::h2::{Config as H2Config, Keepalive, Role};
use crate::proto::Reason;
use crate::tunnel::{TlsTransport, Tunnel};
use futures_channel::mpsc;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A thread's end of the hand-off: sockets other threads accepted for it.
pub(super) type Handoff = mpsc::UnboundedReceiver<Moved>;

/// A socket on its way to another thread, already counted there.
pub(super) type Moved = (std::net::TcpStream, SocketAddr, Placed);

/// Tunnels per thread, and the way to hand a socket to each thread.
#[derive(Clone)]
pub(super) struct Placement {
    counts: Arc<[AtomicUsize]>,
    senders: Arc<[mpsc::UnboundedSender<Moved>]>,
}

/// What serving a tunnel needs.
pub(super) struct Serve {
    pub(super) registry: Arc<Registry>,
    pub(super) cfg: Arc<RelayConfig>,
    pub(super) auth: AuthCell,
}

/// One tunnel counted on a thread until this is dropped.
pub(super) struct Placed {
    counts: Arc<[AtomicUsize]>,
    thread: usize,
}

impl Drop for Placed {
    fn drop(&mut self) {
        if let Some(c) = self.counts.get(self.thread) {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Placement {
    /// Placement for `threads` threads, and each thread's receiving end (by index).
    pub(super) fn new(threads: usize) -> (Placement, Vec<Handoff>) {
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..threads).map(|_| mpsc::unbounded()).unzip();
        let counts: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
        let placement = Placement {
            counts: counts.into(),
            senders: senders.into(),
        };
        (placement, receivers)
    }

    /// Counts one tunnel on the least busy thread (`me` on a tie) and returns it. Two threads
    /// placing at the same moment may pick the same thread: the spread is even up to such
    /// races, which is all it needs to be.
    fn place(&self, me: usize) -> Placed {
        let load = |i: usize| {
            self.counts
                .get(i)
                .map_or(usize::MAX, |c| c.load(Ordering::Relaxed))
        };
        let thread = (0..self.counts.len())
            .min_by_key(|&i| (load(i), i != me))
            .unwrap_or(me);
        self.count_on(thread)
    }

    /// Counts one tunnel on `thread`.
    fn count_on(&self, thread: usize) -> Placed {
        if let Some(c) = self.counts.get(thread) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        Placed {
            counts: self.counts.clone(),
            thread,
        }
    }

    /// Thread `me`'s part: accepts tunnel connections, keeps or hands off each one, and
    /// serves the ones handed to this thread. Runs for the life of the relay.
    pub(super) async fn accept(
        self,
        me: usize,
        listener: compio::net::TcpListener,
        mut handoff: Handoff,
        serve: Serve,
    ) {
        let serve = Arc::new(serve);
        let adopt = async {
            while let Some((sock, peer, placed)) = handoff.next().await {
                match compio::net::TcpStream::from_std(sock) {
                    Ok(sock) => spawn_tunnel(serve.clone(), sock, peer, placed),
                    Err(e) => tracing::warn!(%peer, "cannot adopt a tunnel connection: {e}"),
                }
            }
        };
        let accept = async {
            loop {
                let (sock, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("tunnel accept: {e}");
                        continue;
                    }
                };
                let placed = self.place(me);
                if placed.thread == me {
                    spawn_tunnel(serve.clone(), sock, peer, placed);
                    continue;
                }
                let target = placed.thread;
                let copy = match crate::io::duplicate_tcp(&sock) {
                    Ok(copy) => copy,
                    Err(e) => {
                        // Out of descriptors, say: serve it here rather than not at all.
                        tracing::warn!(%peer, "tunnel connection stays on thread {me}: {e}");
                        drop(placed);
                        spawn_tunnel(serve.clone(), sock, peer, self.count_on(me));
                        continue;
                    }
                };
                drop(sock);
                // The count travels with the socket; it is released wherever the tunnel ends
                // (or here, when the hand-off fails).
                let sent = match self.senders.get(target) {
                    Some(tx) => tx.unbounded_send((copy, peer, placed)).is_ok(),
                    None => false,
                };
                if !sent {
                    tracing::warn!(%peer, "cannot hand a tunnel connection to thread {target}: it has stopped");
                }
            }
        };
        futures_util::join!(adopt, accept);
    }
}

/// Runs one tunnel connection on this thread: TLS handshake, identity, admission, then the
/// tunnel until it ends.
fn spawn_tunnel(serve: Arc<Serve>, sock: compio::net::TcpStream, peer: SocketAddr, placed: Placed) {
    // Each handshake on its own task: a slow or silent peer cannot block the accept loop.
    compio::runtime::spawn(async move {
        let _placed = placed;
        let Serve {
            registry,
            cfg,
            auth,
        } = &*serve;
        let (r, w, certs) =
            match crate::io::tls::accept(sock, cfg.tls.clone(), cfg.handshake_timeout).await {
                Ok(x) => x,
                Err(e) => return tracing::info!(%peer, "tunnel handshake refused: {e}"),
            };
        let identity = match crate::tls::identity_from_certs(&certs) {
            Ok(i) => i,
            Err(e) => return tracing::warn!(%peer, "tunnel refused: {e}"),
        };
        // Tenancy is decided with the settings in force at registration.
        let settings = auth.current();
        if let Err(why) = settings.admit_tunnel(&identity.tenant, &identity.location) {
            settings.audit.auth_failure(
                Door::Tunnel,
                Some(&identity.tenant),
                Some(&peer.to_string()),
                &why,
            );
            drop(settings);
            tracing::warn!(%peer, tenant = %identity.tenant, location = %identity.location, "tunnel refused at registration: {why}");
            // Say why before closing: the connector logs the GOAWAY's text (and retries with
            // backoff) instead of seeing only a closed connection.
            let refusal = Tunnel::new(Role::Client, H2Config::default());
            refusal.refuse(
                Reason::REFUSED_STREAM,
                &format!("the relay refused this tunnel: {why}"),
            );
            let _ = compio::time::timeout(
                cfg.handshake_timeout,
                refusal.run(TlsTransport(r, w)),
            )
            .await;
            return;
        }
        drop(settings);
        tracing::info!(%peer, tenant = %identity.tenant, location = %identity.location, "tunnel up");
        let h2 = H2Config {
            keepalive: Some(Keepalive {
                interval: cfg.keepalive,
                max_missed: 3,
            }),
            ..H2Config::default()
        };
        let tunnel = Tunnel::new(Role::Client, h2);
        let why = registry
            .serve_tunnel(&identity, tunnel, TlsTransport(r, w))
            .await;
        tracing::info!(%peer, tenant = %identity.tenant, location = %identity.location, "tunnel down: {why}");
    })
    .detach();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(p: &Placement) -> Vec<usize> {
        p.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    #[test]
    fn tunnels_go_to_the_least_busy_thread_and_are_released_when_they_end() {
        let (p, _handoffs) = Placement::new(3);
        let first = p.place(1);
        assert_eq!(
            first.thread, 1,
            "a tie keeps the tunnel on the accepting thread"
        );
        let second = p.place(1);
        assert_ne!(
            second.thread, 1,
            "a busier accepting thread hands the tunnel on"
        );
        let third = p.place(1);
        assert_eq!(loads(&p), vec![1, 1, 1]);
        let fourth = p.place(2);
        assert_eq!(fourth.thread, 2);
        drop(first);
        assert_eq!(loads(&p), vec![1, 0, 2]);
        let fifth = p.place(0);
        assert_eq!(
            fifth.thread, 1,
            "the thread whose tunnel ended is the least busy"
        );
        drop((second, third, fourth, fifth));
        assert_eq!(loads(&p), vec![0, 0, 0]);
    }
}

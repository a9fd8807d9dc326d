//! The audit record of one tunnel stream: who asked (the caller the relay vouches for), what
//! for, what the policy decided, and what went through.
//!
//! The relay names the authenticated caller in the `sallyport-caller` request field (it removes
//! any copy a client sent, and the tunnel is mutually authenticated, so the connector can take
//! it as given). The field is taken off the request here, so no backend ever sees it.

use super::Live;
use crate::audit::{AuditSink, Decision, Event, EventKind};
use crate::policy::{Admitted, Denial};
use crate::proto::h2::RequestHead;
use crate::tunnel::StreamHandle;
use std::time::{Instant, SystemTime};

/// The request field carrying the caller identity from the relay (one definition, shared with
/// the relay that sets it).
pub use crate::relay::auth::CALLER_FIELD;

/// The record a stream starts with: kind `Request`, decision `Allow` until the policy says
/// otherwise. Removes the caller field from `head`.
pub(super) fn request_event(live: &Live, head: &mut RequestHead) -> Event {
    let mut ev = Event::new(EventKind::Request, &live.tenant, &live.location);
    let mut caller = None;
    head.fields.retain(|f| {
        if &f.name[..] == CALLER_FIELD.as_bytes() {
            caller = Some(String::from_utf8_lossy(&f.value).into_owned());
            false
        } else {
            true
        }
    });
    ev.caller = caller;
    ev.method = Some(String::from_utf8_lossy(&head.method).into_owned());
    ev.target = head
        .authority
        .as_ref()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    // The path without its query: queries carry session ids and search terms that an audit
    // trail kept for a year should not hold.
    ev.path = head.path.as_ref().map(|p| {
        let p = p.split(|&b| b == b'?').next().unwrap_or_default();
        String::from_utf8_lossy(p).into_owned()
    });
    ev.decision = Decision::Allow;
    ev
}

/// The policy refused the request.
pub(super) fn denied(ev: &mut Event, denial: &Denial) {
    ev.kind = EventKind::Denied;
    ev.decision = Decision::Deny;
    ev.reason = Some(denial.reason().to_string());
}

/// The policy admitted the request: the record names the virtual system and the rule.
pub(super) fn admitted(ev: &mut Event, admitted: &Admitted) {
    ev.target = Some(format!(
        "{}:{}",
        admitted.virtual_host(),
        admitted.virtual_port()
    ));
    if let Some(rule) = admitted.rule() {
        ev.detail = Some(format!("rule {rule}"));
    }
}

/// The sink could not take records: the request was refused with 503.
pub(super) fn unavailable(ev: &mut Event) {
    ev.decision = Decision::Deny;
    ev.reason = Some("audit log unavailable".into());
}

/// Completes the record from the stream's counters and hands it to the sink. A record the
/// sink cannot write stays queued inside it (no sequence gap); past its queue the sink
/// refuses, which the next `admit` turns into 503s.
pub(super) fn finish(audit: &AuditSink, mut ev: Event, stream: &StreamHandle, started: Instant) {
    let stats = stream.stats();
    ev.status = stats.status;
    ev.bytes_in = stats.received;
    ev.bytes_out = stats.sent;
    ev.duration = started.elapsed();
    if let Err(e) = audit.record(ev, SystemTime::now()) {
        tracing::error!("audit record lost: {e}");
    }
}

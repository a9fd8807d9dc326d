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
/// otherwise; `None` when the sink records neither requests nor denials (nothing is
/// formatted for a record nobody writes). Removes the caller field from `head` in any case:
/// no backend may see it.
pub(super) fn request_event(
    live: &Live,
    audit: &AuditSink,
    head: &mut RequestHead,
) -> Option<Event> {
    let mut caller = None;
    head.fields.retain(|f| {
        if &f.name[..] == CALLER_FIELD.as_bytes() {
            caller = Some(f.value.clone());
            false
        } else {
            true
        }
    });
    if !audit.wants(EventKind::Request) && !audit.wants(EventKind::Denied) {
        return None;
    }
    let mut ev = Event::new(EventKind::Request, &live.tenant, &live.location);
    ev.caller = caller.map(|c| String::from_utf8_lossy(&c).into_owned());
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
    Some(ev)
}

/// The policy refused the request.
pub(super) fn denied(ev: &mut Option<Event>, denial: &Denial) {
    let Some(ev) = ev else { return };
    ev.kind = EventKind::Denied;
    ev.decision = Decision::Deny;
    ev.reason = Some(denial.reason().to_string());
}

/// The policy admitted the request: the record names the virtual system and the rule.
pub(super) fn admitted(ev: &mut Option<Event>, admitted: &Admitted) {
    let Some(ev) = ev else { return };
    ev.target = Some(format!(
        "{}:{}",
        admitted.virtual_host(),
        admitted.virtual_port()
    ));
    if let Some(rule) = admitted.rule() {
        ev.detail = Some(format!("rule {rule}"));
    }
}

/// The splice moved no byte for `limit` and was closed: said in the record's detail, after
/// the rule, so the trail explains a connection the connector ended.
pub(super) fn closed_idle(ev: &mut Option<Event>, limit: std::time::Duration) {
    let Some(ev) = ev else { return };
    let note = format!("closed after {limit:?} without traffic");
    ev.detail = Some(match ev.detail.take() {
        Some(d) => format!("{d}; {note}"),
        None => note,
    });
}

/// The sink could not take records: the request was refused with 503.
pub(super) fn unavailable(ev: &mut Option<Event>) {
    let Some(ev) = ev else { return };
    ev.decision = Decision::Deny;
    ev.reason = Some("audit log unavailable".into());
}

/// Completes the record from the stream's counters and hands it to the sink. A record the
/// sink cannot write stays queued inside it (no sequence gap); past its queue the sink
/// refuses, which the next `admit` turns into 503s.
pub(super) fn finish(
    audit: &AuditSink,
    ev: Option<Event>,
    stream: &StreamHandle,
    started: Instant,
) {
    let Some(mut ev) = ev else { return };
    let stats = stream.stats();
    ev.status = stats.status;
    ev.bytes_in = stats.received;
    ev.bytes_out = stats.sent;
    ev.duration = started.elapsed();
    if let Err(e) = audit.record(ev, SystemTime::now()) {
        tracing::error!("audit record lost: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_idle_close_is_noted_after_the_rule() {
        let mut ev = Some(Event::new(EventKind::Request, "acme", "default"));
        closed_idle(&mut ev, Duration::from_secs(600));
        assert_eq!(
            ev.as_ref().and_then(|e| e.detail.as_deref()),
            Some("closed after 600s without traffic")
        );
        if let Some(e) = ev.as_mut() {
            e.detail = Some("rule prefix /".into());
        }
        closed_idle(&mut ev, Duration::from_millis(1500));
        assert_eq!(
            ev.and_then(|e| e.detail),
            Some("rule prefix /; closed after 1.5s without traffic".into())
        );
        // No record (the sink wants none): nothing to note, no panic.
        closed_idle(&mut None, Duration::from_secs(1));
    }
}

//! The few X.509 fields webpki does not expose: validity, `basicConstraints`, the subject key
//! identifier and the subject name's attributes.
//!
//! webpki keeps these `pub(crate)`, and parsing them with `x509-parser` would add a dozen crates
//! for four fields. This is a strict DER walker over certificates that come from *files*
//! (operator input); every read is bounds-checked and malformed input is an `Err`, never a
//! panic. Certificates that arrive over the wire are parsed by webpki, not by this.

/// What [`parse`] extracts from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo<'a> {
    /// `notBefore`, seconds since the Unix epoch.
    pub not_before: i64,
    /// `notAfter`, seconds since the Unix epoch.
    pub not_after: i64,
    /// `basicConstraints` is present with `cA = TRUE`.
    pub is_ca: bool,
    /// The subject `Name`'s contents (the RDN sequence without its outer SEQUENCE header).
    pub subject: &'a [u8],
    /// The `subjectKeyIdentifier` extension's key id, if present.
    pub subject_key_id: Option<&'a [u8]>,
}

/// One attribute of a subject name: its OID arcs, its ASN.1 string tag and raw value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameAttr<'a> {
    /// The attribute type's OID as arcs (e.g. `[2, 5, 4, 3]` for commonName).
    pub oid: Vec<u64>,
    /// The value's universal tag (`0x0c` UTF8String, `0x13` PrintableString, ...).
    pub tag: u8,
    /// The value's content bytes.
    pub value: &'a [u8],
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT` version, `[3] EXPLICIT` extensions (constructed, context-specific).
const CTX0: u8 = 0xa0;
const CTX3: u8 = 0xa3;
/// id-ce-basicConstraints (2.5.29.19) and id-ce-subjectKeyIdentifier (2.5.29.14), DER content.
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const OID_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];

/// A cursor over DER bytes (also used for public keys in [`crate::auth`]).
pub(crate) struct Der<'a>(pub(crate) &'a [u8]);

impl<'a> Der<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// Reads one TLV and returns `(tag, content)`. Only the single-byte tags and definite
    /// lengths of up to 4 bytes that certificates use are accepted.
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8]), &'static str> {
        self.tlv().map(|(tag, _, content)| (tag, content))
    }

    /// Like [`any`](Self::any), also returning the whole encoding (header and content), e.g.
    /// to hand a SubjectPublicKeyInfo on as it is.
    pub(crate) fn tlv(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), &'static str> {
        let start = self.0;
        let (&tag, rest) = self.0.split_first().ok_or("truncated DER")?;
        if tag & 0x1f == 0x1f {
            return Err("multi-byte DER tag");
        }
        let (&first, mut rest) = rest.split_first().ok_or("truncated DER length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err("unsupported DER length form");
            }
            let bytes = rest.get(..n).ok_or("truncated DER length")?;
            rest = &rest[n..];
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let content = rest
            .get(..len)
            .ok_or("DER length past the end of the data")?;
        let header = start.len() - rest.len();
        let whole = start.get(..header + len).unwrap_or_default();
        self.0 = &rest[len..];
        Ok((tag, whole, content))
    }

    /// The content of the next TLV, which must carry tag `want`.
    pub(crate) fn expect(&mut self, want: u8) -> Result<&'a [u8], &'static str> {
        match self.any()? {
            (tag, content) if tag == want => Ok(content),
            _ => Err("unexpected DER tag"),
        }
    }
}

/// Parses the fields of [`CertInfo`] out of a DER certificate.
pub(crate) fn parse(cert: &[u8]) -> Result<CertInfo<'_>, &'static str> {
    let mut outer = Der(cert);
    let mut certificate = Der(outer.expect(SEQUENCE)?);
    if !outer.is_empty() {
        return Err("trailing data after the certificate");
    }
    let mut tbs = Der(certificate.expect(SEQUENCE)?);
    if tbs.peek_tag() == Some(CTX0) {
        tbs.any()?; // version
    }
    tbs.any()?; // serialNumber
    tbs.expect(SEQUENCE)?; // signature algorithm
    tbs.expect(SEQUENCE)?; // issuer
    let mut validity = Der(tbs.expect(SEQUENCE)?);
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let subject = tbs.expect(SEQUENCE)?;
    tbs.expect(SEQUENCE)?; // subjectPublicKeyInfo
    let mut info = CertInfo {
        not_before,
        not_after,
        is_ca: false,
        subject,
        subject_key_id: None,
    };
    // issuerUniqueID [1], subjectUniqueID [2] (v2, unused in practice), then extensions [3].
    while !tbs.is_empty() {
        let (tag, content) = tbs.any()?;
        if tag == CTX3 {
            extensions(content, &mut info)?;
        }
    }
    Ok(info)
}

fn extensions<'a>(explicit: &'a [u8], info: &mut CertInfo<'a>) -> Result<(), &'static str> {
    let mut outer = Der(explicit);
    let mut list = Der(outer.expect(SEQUENCE)?);
    while !list.is_empty() {
        let mut ext = Der(list.expect(SEQUENCE)?);
        let oid = ext.expect(OID)?;
        if ext.peek_tag() == Some(BOOLEAN) {
            ext.any()?; // critical
        }
        let mut value = Der(ext.expect(OCTET_STRING)?);
        if oid == OID_BASIC_CONSTRAINTS {
            let mut bc = Der(value.expect(SEQUENCE)?);
            if bc.peek_tag() == Some(BOOLEAN) {
                info.is_ca = bc.expect(BOOLEAN)? == [0xff];
            }
        } else if oid == OID_SUBJECT_KEY_ID {
            info.subject_key_id = Some(value.expect(OCTET_STRING)?);
        }
    }
    Ok(())
}

/// Reads a UTCTime (`YYMMDDHHMMSSZ`, RFC 5280: YY < 50 is 20YY) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn time(der: &mut Der<'_>) -> Result<i64, &'static str> {
    let (tag, text) = der.any()?;
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return Err("unsupported certificate time format"),
    };
    if rest[10] != b'Z' {
        return Err("certificate time is not in UTC");
    }
    let (month, day) = (digits(&rest[0..2])?, digits(&rest[2..4])?);
    let (hour, min, sec) = (
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 59 {
        return Err("certificate time out of range");
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec)
}

fn digits(text: &[u8]) -> Result<i64, &'static str> {
    text.iter().try_fold(0i64, |acc, &c| match c {
        b'0'..=b'9' => Ok(acc * 10 + i64::from(c - b'0')),
        _ => Err("non-digit in certificate time"),
    })
}

/// Splits a subject `Name` (as in [`CertInfo::subject`]) into its attributes, in order.
/// A multi-valued RDN is refused: rcgen cannot re-encode one, and a CA whose name it cannot
/// re-encode byte for byte cannot be used as an issuer.
pub(crate) fn name_attrs(name: &[u8]) -> Result<Vec<NameAttr<'_>>, &'static str> {
    let mut rdns = Der(name);
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let mut set = Der(rdns.expect(SET)?);
        let mut atv = Der(set.expect(SEQUENCE)?);
        if !set.is_empty() {
            return Err("multi-valued RDN in the subject name");
        }
        let oid = oid_arcs(atv.expect(OID)?)?;
        let (tag, value) = atv.any()?;
        out.push(NameAttr { oid, tag, value });
    }
    Ok(out)
}

fn oid_arcs(content: &[u8]) -> Result<Vec<u64>, &'static str> {
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in content.iter().enumerate() {
        if acc > u64::MAX >> 7 {
            return Err("OID arc too large");
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i + 1 == content.len() {
            return Err("truncated OID");
        }
    }
    if arcs.is_empty() {
        return Err("empty OID");
    }
    Ok(arcs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` for error messages.
pub(crate) fn format_unix(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn civil_round_trip_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59Z");
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn times() {
        let mut utc = Der(b"\x17\x0d491231235959Z");
        assert_eq!(format_unix(time(&mut utc).unwrap()), "2049-12-31T23:59:59Z");
        let mut utc = Der(b"\x17\x0d500101000000Z");
        assert_eq!(format_unix(time(&mut utc).unwrap()), "1950-01-01T00:00:00Z");
        let mut gen = Der(b"\x18\x0f40960101000000Z");
        assert_eq!(format_unix(time(&mut gen).unwrap()), "4096-01-01T00:00:00Z");
        assert!(time(&mut Der(b"\x17\x0d491331235959Z")).is_err());
        assert!(time(&mut Der(b"\x17\x0d4912312359590")).is_err());
        assert!(time(&mut Der(b"\x17\x0d49123123595")).is_err());
    }

    #[test]
    fn oids() {
        assert_eq!(oid_arcs(&[0x55, 0x04, 0x03]).unwrap(), vec![2, 5, 4, 3]);
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]).unwrap(),
            vec![1, 2, 840, 113_549]
        );
        assert!(oid_arcs(&[0x2a, 0x86]).is_err());
        assert!(oid_arcs(&[]).is_err());
    }

    proptest! {
        /// Garbage from a file never panics the walker.
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
            let _ = name_attrs(&bytes);
            let _ = oid_arcs(&bytes);
        }

        /// Nor does a certificate-shaped prefix followed by garbage.
        #[test]
        fn parse_never_panics_on_mangled_headers(tail in proptest::collection::vec(any::<u8>(), 0..200),
                                                 len in any::<u16>()) {
            let mut bytes = vec![0x30, 0x82, (len >> 8) as u8, len as u8, 0x30, 0x81, tail.len() as u8];
            bytes.extend_from_slice(&tail);
            let _ = parse(&bytes);
        }
    }
}

//! SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3).

use super::{FrameError, DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};
use crate::proto::Reason;
use bytes::BytesMut;

/// One SETTINGS parameter identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// SETTINGS_HEADER_TABLE_SIZE (0x1).
    HeaderTableSize,
    /// SETTINGS_ENABLE_PUSH (0x2).
    EnablePush,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3).
    MaxConcurrentStreams,
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4).
    InitialWindowSize,
    /// SETTINGS_MAX_FRAME_SIZE (0x5).
    MaxFrameSize,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6).
    MaxHeaderListSize,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8, RFC 8441).
    EnableConnectProtocol,
}

impl Setting {
    fn from_id(id: u16) -> Option<Setting> {
        Some(match id {
            0x1 => Setting::HeaderTableSize,
            0x2 => Setting::EnablePush,
            0x3 => Setting::MaxConcurrentStreams,
            0x4 => Setting::InitialWindowSize,
            0x5 => Setting::MaxFrameSize,
            0x6 => Setting::MaxHeaderListSize,
            0x8 => Setting::EnableConnectProtocol,
            _ => return None,
        })
    }

    fn id(self) -> u16 {
        match self {
            Setting::HeaderTableSize => 0x1,
            Setting::EnablePush => 0x2,
            Setting::MaxConcurrentStreams => 0x3,
            Setting::InitialWindowSize => 0x4,
            Setting::MaxFrameSize => 0x5,
            Setting::MaxHeaderListSize => 0x6,
            Setting::EnableConnectProtocol => 0x8,
        }
    }
}

/// A set of SETTINGS parameters; `None` means "not present in this frame".
///
/// When a frame repeats a parameter the last value wins, which is what processing the list in
/// order (§6.5.3) amounts to. Unknown identifiers are ignored (§6.5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH (validated to 0 or 1).
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (validated ≤ 2^31-1).
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE (validated within 2^14..=2^24-1).
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (validated to 0 or 1).
    pub enable_connect_protocol: Option<bool>,
}

impl Settings {
    /// Parses the parameter list of a SETTINGS frame (length already checked to be a multiple
    /// of 6).
    pub(super) fn parse(mut payload: &[u8]) -> Result<Settings, FrameError> {
        let mut s = Settings::default();
        while let Some((entry, rest)) = payload.split_first_chunk::<6>() {
            payload = rest;
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            let Some(setting) = Setting::from_id(id) else {
                continue;
            };
            s.apply(setting, value)?;
        }
        Ok(s)
    }

    fn apply(&mut self, setting: Setting, value: u32) -> Result<(), FrameError> {
        let flag = |v: u32, what: &'static str| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(FrameError::connection(Reason::PROTOCOL_ERROR, what)),
        };
        match setting {
            Setting::HeaderTableSize => self.header_table_size = Some(value),
            Setting::EnablePush => {
                self.enable_push = Some(flag(value, "SETTINGS_ENABLE_PUSH not 0 or 1")?)
            }
            Setting::MaxConcurrentStreams => self.max_concurrent_streams = Some(value),
            Setting::InitialWindowSize => {
                if value > MAX_WINDOW_SIZE {
                    return Err(FrameError::connection(
                        Reason::FLOW_CONTROL_ERROR,
                        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                    ));
                }
                self.initial_window_size = Some(value)
            }
            Setting::MaxFrameSize => {
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                    return Err(FrameError::connection(
                        Reason::PROTOCOL_ERROR,
                        "SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1",
                    ));
                }
                self.max_frame_size = Some(value)
            }
            Setting::MaxHeaderListSize => self.max_header_list_size = Some(value),
            Setting::EnableConnectProtocol => {
                self.enable_connect_protocol =
                    Some(flag(value, "SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1")?)
            }
        }
        Ok(())
    }

    /// The present parameters in identifier order, as (setting, raw value).
    pub fn iter(&self) -> impl Iterator<Item = (Setting, u32)> {
        [
            (Setting::HeaderTableSize, self.header_table_size),
            (Setting::EnablePush, self.enable_push.map(u32::from)),
            (Setting::MaxConcurrentStreams, self.max_concurrent_streams),
            (Setting::InitialWindowSize, self.initial_window_size),
            (Setting::MaxFrameSize, self.max_frame_size),
            (Setting::MaxHeaderListSize, self.max_header_list_size),
            (
                Setting::EnableConnectProtocol,
                self.enable_connect_protocol.map(u32::from),
            ),
        ]
        .into_iter()
        .filter_map(|(s, v)| v.map(|v| (s, v)))
    }

    /// Encoded payload length.
    pub fn encoded_len(&self) -> usize {
        self.iter().count() * 6
    }

    /// Appends the parameter list.
    pub(super) fn encode(&self, dst: &mut BytesMut) {
        for (s, v) in self.iter() {
            dst.extend_from_slice(&s.id().to_be_bytes());
            dst.extend_from_slice(&v.to_be_bytes());
        }
    }
}

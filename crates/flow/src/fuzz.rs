//! Entry point for the `capture` fuzz target under `fuzz/`, kept here so that
//! `tests/fuzz_corpus.rs` replays the committed seeds through the same code on stable.

use crate::{CaptureReader, FlowConfig, FlowEvent, FlowTable};

/// Reads any bytes as a capture and pushes every packet through a small flow table:
/// an error or packets, never a panic, and never more buffered than the caps.
pub fn capture(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    let cfg = FlowConfig { max_buffered_per_dir: 1 << 16, max_flows: 64, ..FlowConfig::default() };
    let mut table = FlowTable::new(cfg);
    let mut sink = |e: FlowEvent<'_>| {
        if let FlowEvent::Data { data, .. } = e {
            assert!(data.len() <= 1 << 24);
        }
    };
    while let Ok(Some(pkt)) = reader.next_packet() {
        table.push(&pkt, &mut sink);
    }
    table.finish(&mut sink);
    assert!(table.tracked() <= 64);
}

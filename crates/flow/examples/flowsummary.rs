//! Prints, for each capture given, every TCP connection with the bytes each
//! side delivered and its gaps: `cargo run --example flowsummary -- FILE...`.

use std::collections::BTreeMap;

use wsprobe_flow::{CaptureReader, FlowConfig, FlowEvent, FlowTable, Side};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path)?;
        let mut reader = CaptureReader::new(file)?;
        let mut table = FlowTable::new(FlowConfig::default());
        let mut conns: BTreeMap<u64, (String, [u64; 2], [u64; 2], String)> = BTreeMap::new();
        let mut sink = |e: FlowEvent<'_>| match e {
            FlowEvent::Opened { conn, initiator, responder, syn_seen, .. } => {
                conns.insert(
                    conn.0,
                    (format!("{initiator} -> {responder} syn={syn_seen}"), [0; 2], [0; 2], String::new()),
                );
            }
            FlowEvent::Data { conn, side, data, .. } => {
                if let Some(c) = conns.get_mut(&conn.0) {
                    c.1[usize::from(side == Side::Responder)] += data.len() as u64;
                }
            }
            FlowEvent::Gap { conn, side, len, .. } => {
                if let Some(c) = conns.get_mut(&conn.0) {
                    c.2[usize::from(side == Side::Responder)] += len;
                }
            }
            FlowEvent::Closed { conn, reason, .. } => {
                if let Some(c) = conns.get_mut(&conn.0) {
                    c.3 = format!("{reason:?}");
                }
            }
            FlowEvent::Warning { message, .. } => eprintln!("warning: {message}"),
        };
        let mut err = None;
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => table.push(&p, &mut sink),
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        table.finish(&mut sink);
        println!("== {path}: {:?}", table.stats());
        if let Some(e) = err {
            println!("error: {e}");
        }
        for (id, (desc, bytes, gaps, closed)) in &conns {
            println!("#{id} {desc} bytes={bytes:?} gaps={gaps:?} closed={closed}");
        }
    }
    Ok(())
}

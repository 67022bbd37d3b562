//! Rough throughput check: synthesizes `MB` megabytes of TCP conversations into
//! an in-memory pcap, then reads and reassembles it.
//! `cargo run --release --example synth_bench -- 200`

use std::time::Instant;

use wsprobe_flow::{
    CaptureReader, FlowConfig, FlowEvent, FlowTable, PcapOptions, PcapWriter, Side, TcpConversation,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mb: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let target = mb << 20;
    let t0 = Instant::now();
    let mut w = PcapWriter::new(Vec::with_capacity(target + (1 << 20)), PcapOptions::default())?;
    let payload = vec![0x42u8; 1400];
    let mut frame = Vec::with_capacity(1600);
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut conn = 0u32;
    'outer: loop {
        conn += 1;
        let client =
            format!("10.{}.{}.{}:{}", (conn >> 16) & 255, (conn >> 8) & 255, conn & 255, 1024 + conn % 60000);
        let mut c = TcpConversation::new(client.parse()?, "192.0.2.1:80".parse()?);
        for p in c.handshake() {
            ts += 1000;
            w.write_packet(ts, &p, p.len() as u32)?;
        }
        for i in 0..200 {
            let side = if i % 4 == 0 { Side::Initiator } else { Side::Responder };
            c.send_into(side, &payload, &mut frame);
            ts += 1000;
            w.write_packet(ts, &frame, frame.len() as u32)?;
        }
        for side in [Side::Initiator, Side::Responder] {
            let p = c.fin(side);
            w.write_packet(ts, &p, p.len() as u32)?;
        }
        if w.flush().is_ok() && conn as usize * 200 * 1500 > target {
            break 'outer;
        }
    }
    let file = w.into_inner();
    let gen_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut reader = CaptureReader::new(&file[..])?;
    let mut table = FlowTable::new(FlowConfig::default());
    let mut bytes = 0u64;
    let mut sink = |e: FlowEvent<'_>| {
        if let FlowEvent::Data { data, .. } = e {
            bytes += data.len() as u64;
        }
    };
    while let Some(p) = reader.next_packet()? {
        table.push(&p, &mut sink);
    }
    table.finish(&mut sink);
    let read_s = t1.elapsed().as_secs_f64();
    let size = file.len() as f64 / 1e6;
    println!(
        "{size:.0} MB, {conn} connections: synth {:.0} MB/s, read+reassemble {:.0} MB/s ({bytes} stream bytes)",
        size / gen_s,
        size / read_s
    );
    Ok(())
}

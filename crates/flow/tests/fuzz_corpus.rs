//! Replays the committed `capture` fuzz seeds on stable, whole and cut at every length.

#[test]
fn capture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/capture");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for cut in 0..=data.len() {
            wsprobe_flow::fuzz::capture(&data[..cut]);
        }
        seeds += 1;
    }
    assert!(seeds >= 3);
}

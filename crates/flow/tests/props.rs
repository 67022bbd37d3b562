//! Property tests through the whole table.

mod common;

use proptest::prelude::*;
use wsprobe_flow::{FlowConfig, LinkType, Side, SynthLink, TcpConversation, decode_packet};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any segmentation, reordering and duplication of a client byte stream,
    /// with any ISN (wrap-around included), reassembles to the same bytes.
    #[test]
    fn table_reassembles_any_segmentation(
        data in proptest::collection::vec(any::<u8>(), 1..2000),
        cuts in proptest::collection::vec(0usize..2000, 0..30),
        swaps in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..40),
        dups in proptest::collection::vec((0usize..2000, 1usize..300), 0..8),
        isn in any::<u32>(),
        v6 in any::<bool>(),
    ) {
        let (cl, sv) = if v6 { ("[2001:db8::1]:1000", "[2001:db8::2]:80") } else { ("10.0.0.1:1000", "10.0.0.2:80") };
        let mut c = TcpConversation::new(cl.parse().unwrap(), sv.parse().unwrap())
            .with_isns(isn, isn ^ 0x5555_5555)
            .with_link(SynthLink::Sll2);
        let mut frames: Vec<Vec<u8>> = c.handshake().into();
        let mut bounds: Vec<usize> = cuts.iter().map(|x| x % data.len()).collect();
        bounds.extend([0, data.len()]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut segs: Vec<Vec<u8>> = bounds
            .windows(2)
            .map(|w| c.segment(Side::Initiator, w[0] as u64, &data[w[0]..w[1]]))
            .collect();
        for (a, l) in dups {
            let a = a % data.len();
            let b = (a + l).min(data.len());
            segs.push(c.segment(Side::Initiator, a as u64, &data[a..b]));
        }
        for (a, b) in swaps {
            let n = segs.len();
            segs.swap(usize::from(a) % n, usize::from(b) % n);
        }
        c.advance(Side::Initiator, data.len() as u64);
        frames.extend(segs);
        frames.push(c.fin(Side::Initiator));
        frames.push(c.fin(Side::Responder));
        let (s, _) = common::run_frames(LinkType::LINUX_SLL2, &frames, FlowConfig::default());
        prop_assert!(s.gaps.is_empty(), "{:?}", s.gaps);
        prop_assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        prop_assert_eq!(s.get(1, Side::Initiator), &data[..]);
    }

    /// Arbitrary frames never panic the decoder or the table.
    #[test]
    fn hostile_frames_never_panic(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..30),
        link in prop::sample::select(vec![0u16, 1, 12, 101, 108, 113, 228, 229, 276]),
    ) {
        for f in &frames {
            let _ = decode_packet(LinkType(link), f);
        }
        let _ = common::run_frames(LinkType(link), &frames, FlowConfig::default());
    }
}

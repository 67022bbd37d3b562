//! Any frame the encoder can write, valid or malformed, parses back to the same fields.

use proptest::prelude::*;
use wsprobe_wire::encode::{FrameSpec, Masking};
use wsprobe_wire::{LengthForm, OpCode, Parsed, parse_header};

fn spec() -> impl Strategy<Value = FrameSpec> {
    (
        any::<bool>(),
        0u8..8,
        0u8..16,
        prop_oneof![Just(None), any::<[u8; 4]>().prop_map(Some)],
        prop_oneof![
            Just(None),
            Just(Some(LengthForm::Short)),
            Just(Some(LengthForm::Ext16)),
            Just(Some(LengthForm::Ext64))
        ],
        proptest::collection::vec(any::<u8>(), 0..400),
        prop_oneof![3 => Just(None), 1 => any::<u64>().prop_map(Some)],
    )
        .prop_map(|(fin, rsv, op, key, form, payload, lie)| {
            let len = lie.unwrap_or(payload.len() as u64);
            // Keep the forced form able to hold the declared length.
            let form = form.filter(|f| match f {
                LengthForm::Short => len <= 125,
                LengthForm::Ext16 => len <= 0xFFFF,
                LengthForm::Ext64 => true,
            });
            FrameSpec {
                fin,
                rsv,
                opcode: OpCode(op),
                masking: key.map_or(Masking::None, Masking::Key),
                length_form: form,
                declared_len: lie,
                payload,
            }
        })
}

proptest! {
    #[test]
    fn encode_then_parse_gives_the_same_fields(s in spec()) {
        let bytes = s.encode().unwrap();
        let Parsed::Header(h) = parse_header(&bytes) else { panic!("incomplete") };
        let len = s.declared_len.unwrap_or(s.payload.len() as u64);
        prop_assert_eq!(h.fin, s.fin);
        prop_assert_eq!(h.rsv(), s.rsv);
        prop_assert_eq!(h.opcode, s.opcode);
        prop_assert_eq!(h.payload_len, len);
        prop_assert_eq!(h.length_form, s.length_form.unwrap_or(LengthForm::minimal_for(len)));
        match s.masking {
            Masking::Key(k) => prop_assert_eq!(h.mask_key, Some(k)),
            _ => prop_assert_eq!(h.mask_key, None),
        }
        // The payload follows the header, masked with the key.
        let mut body = bytes[usize::from(h.header_len)..].to_vec();
        if let Some(k) = h.mask_key {
            wsprobe_wire::mask::apply_mask(&mut body, k, 0);
        }
        prop_assert_eq!(body, s.payload);
    }

    #[test]
    fn every_prefix_of_a_header_asks_for_more(s in spec()) {
        let bytes = s.encode().unwrap();
        let Parsed::Header(h) = parse_header(&bytes) else { panic!("incomplete") };
        for cut in 0..usize::from(h.header_len) {
            let is_incomplete = matches!(parse_header(&bytes[..cut]), Parsed::Incomplete { needed } if needed >= 1);
            prop_assert!(is_incomplete);
        }
    }
}

#[test]
fn flag_only_masking_sets_the_bit_without_a_key() {
    let s = FrameSpec::new(OpCode::TEXT, *b"abcdHello").masking(Masking::FlagOnly);
    let bytes = s.encode().unwrap();
    assert_eq!(bytes[1], 0x80 | 9);
    // A parser then reads the first four payload bytes as the key.
    let Parsed::Header(h) = parse_header(&bytes) else { panic!() };
    assert_eq!(h.mask_key, Some(*b"abcd"));
}

#[test]
fn impossible_forms_are_refused() {
    assert!(FrameSpec::new(OpCode::TEXT, vec![0; 126]).length_form(LengthForm::Short).encode().is_err());
    assert!(
        FrameSpec::new(OpCode::TEXT, vec![])
            .length_form(LengthForm::Ext16)
            .declared_len(70_000)
            .encode()
            .is_err()
    );
}

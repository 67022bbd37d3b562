//! Client-to-server masking, RFC 6455 §5.3: `payload[i] ^= key[i % 4]`.

/// XORs `data` in place with the masking `key`, where `data` starts `phase` bytes into
/// the payload (so a payload can be unmasked in chunks). Masking and unmasking are the
/// same operation.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], phase: usize) {
    let mut k = key;
    k.rotate_left(phase % 4);
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= k[i % 4];
    }
}

/// Appends `src` masked (or unmasked) with `key` to `dst`, `src` starting `phase`
/// bytes into the payload: one pass instead of a copy followed by [`apply_mask`].
pub fn mask_into(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], phase: usize) {
    let mut k = key;
    k.rotate_left(phase % 4);
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    dst.reserve(src.len());
    let mut chunks = src.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        dst.extend_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    dst.extend(chunks.remainder().iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(data: &mut [u8], key: [u8; 4], phase: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= key[(i + phase) % 4];
        }
    }

    #[test]
    fn matches_naive_for_all_phases_and_lengths() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            for phase in 0..8 {
                let orig: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(31)).collect();
                let (mut a, mut b) = (orig.clone(), orig.clone());
                apply_mask(&mut a, key, phase);
                naive(&mut b, key, phase);
                assert_eq!(a, b, "len {len} phase {phase}");
            }
        }
    }

    #[test]
    fn mask_into_equals_copy_then_mask() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            for phase in 0..5 {
                let src: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(7)).collect();
                let mut want = src.clone();
                apply_mask(&mut want, key, phase);
                let mut got = vec![9];
                mask_into(&mut got, &src, key, phase);
                assert_eq!(got[1..], want[..], "len {len} phase {phase}");
            }
        }
    }

    #[test]
    fn chunked_equals_whole() {
        let key = [1, 2, 3, 4];
        let orig: Vec<u8> = (0..100u8).collect();
        let mut whole = orig.clone();
        apply_mask(&mut whole, key, 0);
        let mut parts = orig.clone();
        let (a, b) = parts.split_at_mut(13);
        apply_mask(a, key, 0);
        apply_mask(b, key, 13);
        assert_eq!(whole, parts);
    }
}

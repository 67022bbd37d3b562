//! Deterministic sample data for the compression cases (Autobahn categories 12 and 13).
//!
//! Autobahn sends slices of five real files (a JSON document, a black-and-white bitmap,
//! a German play, an HTML page, a PDF). Those files are not ours to ship, so each
//! corpus here is generated from a fixed seed to have the same *kind* of content and
//! about the same size and compressibility: ASCII JSON and HTML (any slice is valid
//! UTF-8), UTF-8 German prose sent as binary, an 8-bit bitmap with smooth areas, and a
//! PDF-like file that is mostly incompressible stream data. A payload
//! `corpus=NAME(LEN)` is one slice; a message repeated after its echo takes the next
//! slice, so that every message of a case differs, as in Autobahn.

use std::sync::OnceLock;
use wsprobe_wire::xorshift::Xorshift;

/// The corpora, by name.
pub const NAMES: &[&str] = &["json", "bmp", "faust", "html", "pdf"];

/// The corpora's generator: deterministic (no OS randomness in the catalog).
struct Rng(Xorshift);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next()
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.index(n)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "alpha", "beacon", "circuit", "delta", "engine", "falcon", "gateway", "harbor", "island", "jungle",
    "kernel", "lantern", "meadow", "nebula", "orbit", "prism", "quartz", "river", "signal", "timber",
    "uplink", "vector", "willow", "xenon", "yonder", "zephyr", "socket", "frame", "message", "window",
];

const GERMAN: &[&str] = &[
    "Habe",
    "nun",
    "ach",
    "Philosophie",
    "Juristerei",
    "und",
    "Medizin",
    "auch",
    "leider",
    "Theologie",
    "durchaus",
    "studiert",
    "mit",
    "heißem",
    "Bemühn",
    "da",
    "steh",
    "ich",
    "armer",
    "Tor",
    "bin",
    "so",
    "klug",
    "als",
    "wie",
    "zuvor",
    "Heiße",
    "Magister",
    "Doktor",
    "gar",
    "zieh",
    "schon",
    "zehen",
    "Jahr",
    "herauf",
    "herab",
    "quer",
    "krumm",
    "meine",
    "Schüler",
    "an",
    "der",
    "Nase",
    "herum",
    "Geist",
    "Welt",
    "Erde",
    "Himmel",
    "Nacht",
    "Mond",
    "Zauber",
    "Wissen",
    "Herz",
    "Brust",
    "Gretchen",
    "Straße",
    "über",
];

const SPEAKERS: &[&str] = &["FAUST", "MEPHISTOPHELES", "WAGNER", "MARGARETE", "MARTHE", "CHOR"];

const TAGS: &[&str] = &["p", "li", "span", "td", "h2", "em", "a", "div"];

fn json(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut s = String::from("{\n   \"AutobahnPython\": \"sample data\",\n   \"records\": [\n");
    let mut id = 1000u32;
    while s.len() < size {
        id += 1 + rng.below(7) as u32;
        let tags: Vec<String> = (0..1 + rng.below(4)).map(|_| format!("\"{}\"", rng.pick(WORDS))).collect();
        s.push_str(&format!(
            "      {{\n         \"id\": {id},\n         \"name\": \"{} {}\",\n         \"active\": {},\n         \"score\": {}.{},\n         \"tags\": [{}],\n         \"parent\": {}\n      }},\n",
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.below(2) == 0,
            rng.below(1000),
            rng.below(100),
            tags.join(", "),
            if rng.below(3) == 0 { "null".to_string() } else { (id - 1 - rng.below(500) as u32).to_string() }
        ));
    }
    s.into_bytes()
}

fn html(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut s = String::from("<!DOCTYPE html>\n<html>\n<head><title>Sample page</title></head>\n<body>\n");
    while s.len() < size {
        let tag = rng.pick(TAGS);
        let words: Vec<&str> = (0..3 + rng.below(12)).map(|_| rng.pick(WORDS)).collect();
        if tag == "a" {
            s.push_str(&format!("  <a href=\"/{}/{}.html\">{}</a>\n", words[0], words[1], words.join(" ")));
        } else {
            s.push_str(&format!("  <{tag} class=\"{}\">{}</{tag}>\n", rng.pick(WORDS), words.join(" ")));
        }
    }
    s.into_bytes()
}

fn faust(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut s = String::from("\u{feff}The Project Gutenberg EBook of Faust (sample)\n\n");
    while s.len() < size {
        s.push_str(rng.pick(SPEAKERS));
        s.push_str(":\n");
        for _ in 0..1 + rng.below(6) {
            let words: Vec<&str> = (0..4 + rng.below(6)).map(|_| rng.pick(GERMAN)).collect();
            s.push_str(&words.join(" "));
            s.push_str(if rng.below(3) == 0 { "!\n" } else { ",\n" });
        }
        s.push('\n');
    }
    s.into_bytes()
}

fn bmp(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v = b"BM".to_vec();
    v.extend_from_slice(&(size as u32).to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0x36, 0x04, 0, 0, 40, 0, 0, 0]);
    v.extend_from_slice(&512u32.to_le_bytes());
    v.extend_from_slice(&512u32.to_le_bytes());
    v.extend_from_slice(&[1, 0, 8, 0]);
    v.resize(0x436, 0);
    for i in 0..256u32 {
        let g = i as u8;
        v[0x36 + 4 * i as usize..0x3a + 4 * i as usize].copy_from_slice(&[g, g, g, 0]);
    }
    let mut y = 0usize;
    while v.len() < size {
        for x in 0..512usize {
            let smooth = ((x * 3 + y * 5) / 16 + (x * y) / 2048) % 256;
            let noise = if rng.below(8) == 0 { rng.below(32) } else { 0 };
            v.push(((smooth + noise) % 256) as u8);
        }
        y += 1;
    }
    v.truncate(size);
    v
}

fn pdf(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.2\n%\xc7\xec\x8f\xa2\n".to_vec();
    let mut obj = 6;
    while v.len() < size {
        let len = 2000 + rng.below(30_000);
        v.extend_from_slice(
            format!("{obj} 0 obj\n<</Length {len}/Filter /FlateDecode>>\nstream\n").as_bytes(),
        );
        for _ in 0..len / 8 {
            v.extend_from_slice(&rng.next().to_le_bytes());
        }
        v.extend_from_slice(format!("\nendstream\nendobj\n{} 0 obj\n{len}\nendobj\n", obj + 1).as_bytes());
        obj += 2;
    }
    v.truncate(size);
    v
}

/// The bytes of corpus `name` (generated once), or `None` for an unknown name.
pub fn get(name: &str) -> Option<&'static [u8]> {
    static CELLS: [OnceLock<Vec<u8>>; 5] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = NAMES.iter().position(|n| *n == name)?;
    let data = CELLS[i].get_or_init(|| {
        let mut rng = Rng(Xorshift::new(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1)));
        let (mut v, size) = match i {
            0 => (json(&mut rng, 194_056), 194_056),
            1 => (bmp(&mut rng, 263_222), 263_222),
            2 => (faust(&mut rng, 222_218), 222_218),
            3 => (html(&mut rng, 263_647), 263_647),
            _ => (pdf(&mut rng, 1_042_328), 1_042_328),
        };
        // Cut to the size of Autobahn's file, on a character boundary, padded with newlines.
        let mut cut = size.min(v.len());
        while cut > 0 && cut < v.len() && (v[cut] & 0xc0) == 0x80 {
            cut -= 1;
        }
        v.truncate(cut);
        v.resize(size, b'\n');
        v
    });
    Some(data)
}

/// The `n`-th slice of `len` bytes of corpus `name` (0 is the start of the corpus;
/// later slices start at pseudo-random offsets). `len` is at most the corpus size.
pub fn slice(name: &str, len: usize, n: u64) -> Vec<u8> {
    let Some(data) = get(name) else {
        return Vec::new();
    };
    let len = len.min(data.len());
    let room = (data.len() - len) as u64;
    let start = if n == 0 || room == 0 {
        0
    } else {
        let mut z = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        ((z ^ (z >> 29)) % (room + 1)) as usize
    };
    data[start..start + len].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpora_have_their_size_and_kind() {
        for (name, size) in [("json", 194_056), ("bmp", 263_222), ("faust", 222_218), ("html", 263_647)] {
            assert_eq!(get(name).unwrap().len(), size, "{name}");
        }
        assert_eq!(get("pdf").unwrap().len(), 1_042_328);
        assert!(get("json").unwrap().is_ascii() && get("html").unwrap().is_ascii());
        assert!(std::str::from_utf8(get("faust").unwrap()).is_ok());
        assert!(get("nope").is_none());
    }

    #[test]
    fn slices_differ_and_stay_in_bounds() {
        let a = slice("json", 256, 1);
        let b = slice("json", 256, 2);
        assert_eq!((a.len(), b.len()), (256, 256));
        assert_ne!(a, b);
        assert_eq!(slice("json", 16, 0), b"{\n   \"AutobahnPy");
        assert_eq!(slice("pdf", 2_000_000, 5).len(), 1_042_328);
        assert_eq!(slice("json", 64, 7), slice("json", 64, 7));
    }
}

//! A small deterministic random number generator for the library's
//! generated-input tests (splitmix64: the same sequence on every run).

/// splitmix64 from a seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// One of `xs` (not empty).
    pub(crate) fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    /// Changes one character of `l` (not empty), at a character boundary:
    /// replaced by one of `by`, dropped, or doubled.
    pub(crate) fn mutate(&mut self, l: &mut String, by: &[&str]) {
        let cuts: Vec<usize> = l.char_indices().map(|(i, _)| i).collect();
        let at = cuts[(self.next() as usize) % cuts.len()];
        let c = l[at..].chars().next().unwrap();
        match self.next() % 3 {
            0 => l.replace_range(at..at + c.len_utf8(), self.pick(by)),
            1 => l.replace_range(at..at + c.len_utf8(), ""),
            _ => l.insert(at, c),
        }
    }
}

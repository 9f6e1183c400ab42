//! Plaintext range → ciphertext range mapping (DESIGN.md §4.5).

use super::format::{HEADER_LEN, TAG_LEN, segment_count};

/// The segments covering a plaintext range of one stream, and how to trim them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSpan {
    /// First segment index i.
    pub first_segment: u64,
    /// Last segment index j (inclusive).
    pub last_segment: u64,
    /// Ciphertext byte range to fetch, end exclusive.
    pub cipher_start: u64,
    /// End of the ciphertext range, exclusive.
    pub cipher_end: u64,
    /// Plaintext bytes to drop from the start of segment i.
    pub skip: u64,
    /// Plaintext bytes to emit in total.
    pub take: u64,
}

/// The longest span read from byte 0 (header included) rather than from the first segment.
pub const FROM_BYTE_ZERO_MAX: u64 = 1 << 20;

/// Total ciphertext length C = 96 + L + 16·n.
pub fn ciphertext_len(plaintext_len: u64, seg_log2: u8) -> u64 {
    HEADER_LEN + plaintext_len + TAG_LEN * segment_count(plaintext_len, seg_log2)
}

impl SegmentSpan {
    /// Maps the inclusive plaintext range `[first, last]` of a stream of length `plaintext_len`.
    /// `None` for an empty range selects the single empty final segment of an empty stream,
    /// so even a zero-length read verifies something. A short span (at most
    /// [`FROM_BYTE_ZERO_MAX`] bytes of ciphertext) that starts at the first segment starts at
    /// byte 0, the 96-byte header included: some S3 servers answer ranges that do not start at
    /// 0 far more slowly (rclone's gofakes3: 22.6 ms against 0.9), and the opener checks the
    /// header against the metadata for free. Longer reads keep starting after the header: the
    /// same server spends 1.6× the CPU serving a large range from byte 0 (docs/performance.md).
    pub fn for_range(plaintext_len: u64, seg_log2: u8, range: Option<(u64, u64)>) -> Self {
        let s = 1u64 << seg_log2;
        let n = segment_count(plaintext_len, seg_log2);
        let (i, j, skip, take) = match range {
            Some((a, b)) => (a / s, b / s, a % s, b - a + 1),
            None => (n - 1, n - 1, 0, 0),
        };
        let cipher_end =
            if j == n - 1 { ciphertext_len(plaintext_len, seg_log2) } else { HEADER_LEN + (j + 1) * (s + TAG_LEN) };
        let cipher_start = if i == 0 && cipher_end <= FROM_BYTE_ZERO_MAX { 0 } else { HEADER_LEN + i * (s + TAG_LEN) };
        Self { first_segment: i, last_segment: j, cipher_start, cipher_end, skip, take }
    }
}

/// The part of one stream that a range over a multi-stream object touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartSlice {
    /// Index into the object's streams.
    pub index: usize,
    /// First plaintext byte within the stream.
    pub first: u64,
    /// Last plaintext byte within the stream, inclusive.
    pub last: u64,
}

/// Splits the inclusive object range `[first, last]` over streams of the given lengths.
pub fn slice_parts(lengths: &[u64], first: u64, last: u64) -> Vec<PartSlice> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for (index, &len) in lengths.iter().enumerate() {
        let (start, end) = (offset, offset + len);
        offset = end;
        if len == 0 || end <= first || start > last {
            continue;
        }
        out.push(PartSlice { index, first: first.max(start) - start, last: last.min(end - 1) - start });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_of_whole_small_stream() {
        let span = SegmentSpan::for_range(10, 16, Some((0, 9)));
        assert_eq!(span.cipher_start, 0, "from byte 0, the header included");
        assert_eq!(span.cipher_end, 96 + 10 + 16);
        assert_eq!((span.skip, span.take), (0, 10));
    }

    #[test]
    fn a_span_after_the_first_segment_or_a_long_one_skips_the_header() {
        let span = SegmentSpan::for_range(3 << 16, 16, Some((70_000, 70_009)));
        assert_eq!((span.first_segment, span.cipher_start), (1, 96 + (1 << 16) + 16));
        let whole = SegmentSpan::for_range(64 << 20, 16, Some((0, (64 << 20) - 1)));
        assert_eq!((whole.first_segment, whole.cipher_start), (0, 96), "a long read starts after the header");
        let short = SegmentSpan::for_range(64 << 20, 16, Some((0, 4095)));
        assert_eq!(short.cipher_start, 0, "a short one from byte 0");
    }

    #[test]
    fn parts_are_sliced_at_boundaries() {
        let s = slice_parts(&[5, 5, 5], 4, 10);
        assert_eq!(
            s,
            vec![
                PartSlice { index: 0, first: 4, last: 4 },
                PartSlice { index: 1, first: 0, last: 4 },
                PartSlice { index: 2, first: 0, last: 0 }
            ]
        );
    }
}

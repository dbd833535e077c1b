//! JSON the operator keeps in memory for every resource (the watch cache's copy of spec and
//! status, the record memo), compressed with LZ4 against a dictionary of what every such
//! document says alike: its keys and common values. A cached resource's 540 bytes of JSON take
//! about 150 this way (the keys alone are most of it), and a pass unpacks it in microseconds.
//! The dictionary only makes the result smaller: any JSON packs and unpacks whole.

/// Compressed JSON, its length prepended.
#[derive(Clone, Debug, Default)]
pub(crate) struct Packed(Box<[u8]>);

/// What packed documents of one kind say alike, as one of them would say it.
pub(crate) struct Dictionary(pub(crate) &'static [u8]);

/// A packed document did not unpack (only a defect of this process can cause it).
#[derive(Debug, thiserror::Error)]
#[error("a packed document did not unpack: {0}")]
pub(crate) struct Unpack(#[from] lz4_flex::block::DecompressError);

impl Packed {
    pub(crate) fn pack(json: &[u8], dictionary: &Dictionary) -> Packed {
        if json.is_empty() {
            return Packed::default();
        }
        Packed(
            lz4_flex::block::compress_prepend_size_with_dict(json, dictionary.0).into_boxed_slice(),
        )
    }

    /// The JSON whole, as it was packed.
    pub(crate) fn unpack(&self, dictionary: &Dictionary) -> Result<Vec<u8>, Unpack> {
        if self.0.is_empty() {
            return Ok(Vec::new());
        }
        Ok(lz4_flex::block::decompress_size_prepended_with_dict(
            &self.0,
            dictionary.0,
        )?)
    }

    /// Its size in memory.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DICTIONARY: Dictionary = Dictionary(br#"{"spec":{"userName":""}}"#);

    #[test]
    fn any_json_unpacks_as_it_was_packed_with_or_without_the_dictionary_saying_it() {
        for json in [
            &br#"{"spec":{"userName":"sofia"}}"#[..],
            br#"{"other":["nothing", "like", "the", "dictionary", 1e9]}"#,
            b"",
            &[b'x'; 100_000],
        ] {
            let packed = Packed::pack(json, &DICTIONARY);
            assert_eq!(packed.unpack(&DICTIONARY).unwrap(), json);
        }
    }

    #[test]
    fn what_the_dictionary_says_is_not_kept_again() {
        let json = br#"{"spec":{"userName":"sofia"}}"#;
        let with = Packed::pack(json, &DICTIONARY).len();
        let without = Packed::pack(json, &Dictionary(b"")).len();
        assert!(with + 10 < without, "{with} against {without}");
    }
}

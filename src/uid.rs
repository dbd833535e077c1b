//! A resource uid as a map key. The per-resource maps hold one key per resource; a uid kept as a
//! `String` is 24 bytes and a 48-byte allocation, 10,000 times over in each map.

/// A uid in 16 bytes when it is the lower-case hyphenated UUID that API servers issue, and as it
/// is otherwise (to a client a uid is opaque: two different strings are two different keys).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UidKey {
    Uuid([u8; 16]),
    Other(Box<str>),
}

impl UidKey {
    pub(crate) fn of(uid: &str) -> UidKey {
        match uuid::Uuid::try_parse(uid) {
            Ok(parsed)
                if *parsed
                    .hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer())
                    == *uid =>
            {
                UidKey::Uuid(parsed.into_bytes())
            }
            _ => UidKey::Other(uid.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_form_is_packed_and_keys_stay_distinct() {
        let canonical = "0b9bd0c4-4f0e-4d2a-9a55-2f1e34c5a7b1";
        assert!(matches!(UidKey::of(canonical), UidKey::Uuid(_)));
        assert_eq!(UidKey::of(canonical), UidKey::of(canonical));
        // The same UUID spelt otherwise is another uid to the API server: another key here.
        for other in [
            "0B9BD0C4-4F0E-4D2A-9A55-2F1E34C5A7B1",
            "0b9bd0c44f0e4d2a9a552f1e34c5a7b1",
            "{0b9bd0c4-4f0e-4d2a-9a55-2f1e34c5a7b1}",
            "urn:uuid:0b9bd0c4-4f0e-4d2a-9a55-2f1e34c5a7b1",
        ] {
            assert_eq!(UidKey::of(other), UidKey::Other(other.into()));
            assert_ne!(UidKey::of(other), UidKey::of(canonical));
        }
        assert_eq!(UidKey::of("kept"), UidKey::Other("kept".into()));
        assert_eq!(std::mem::size_of::<UidKey>(), 24);
    }
}

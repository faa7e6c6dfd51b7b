//! Just enough of the WebAssembly binary format to find, drop and append
//! custom sections, which is all `annotate` and `inspect` need (kwctl uses
//! walrus, which re-encodes the whole module; appending is only bytes).
//!
//! A module is the magic `\0asm`, the version `1 0 0 0`, then sections: an id
//! byte, the content size as unsigned LEB128, the content. A custom section
//! (id 0) starts its content with a LEB128 name length and the UTF-8 name.

use std::ops::Range;

/// The first eight bytes of a core WebAssembly module.
const MODULE_HEADER: &[u8; 8] = b"\0asm\x01\0\0\0";

/// The id of custom sections.
const CUSTOM_SECTION_ID: u8 = 0;

/// The bytes are not a well-formed sequence of module sections.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    /// No `\0asm` magic.
    #[error("not a WebAssembly module (it does not start with the \\0asm magic bytes)")]
    NotWasm,
    /// `\0asm` but another version or layer (e.g. a component).
    #[error("not a core WebAssembly module version 1 (a component or another version)")]
    UnsupportedVersion,
    /// A section header or content runs past the end.
    #[error("malformed WebAssembly module: {what} at byte offset {offset}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
        /// Where.
        offset: usize,
    },
}

/// One section of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section id (0 = custom).
    pub id: u8,
    /// The whole section, header included.
    pub whole: Range<usize>,
    /// The section's content.
    pub content: Range<usize>,
}

/// Reads an unsigned LEB128 u32 at `*pos`, advancing it.
fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32, SectionError> {
    let start = *pos;
    let mut result: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos).ok_or(SectionError::Malformed {
            what: "truncated LEB128 number",
            offset: start,
        })?;
        *pos += 1;
        let low = u32::from(byte & 0x7f);
        if shift == 28 && low > 0x0f {
            return Err(SectionError::Malformed {
                what: "LEB128 number too large",
                offset: start,
            });
        }
        result |= low << shift;
        if byte & 0x80 == 0 {
            return Ok(result);
        }
    }
    Err(SectionError::Malformed {
        what: "LEB128 number too long",
        offset: start,
    })
}

/// Appends `value` as unsigned LEB128.
pub fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Splits a module into its sections (contents are not validated).
pub fn sections(bytes: &[u8]) -> Result<Vec<Section>, SectionError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(SectionError::NotWasm);
    }
    if !bytes.starts_with(MODULE_HEADER) {
        return Err(SectionError::UnsupportedVersion);
    }
    let mut pos = MODULE_HEADER.len();
    let mut out = Vec::new();
    while pos < bytes.len() {
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let size = read_leb_u32(bytes, &mut pos)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|end| *end <= bytes.len())
            .ok_or(SectionError::Malformed {
                what: "section runs past the end of the file",
                offset: start,
            })?;
        out.push(Section {
            id,
            whole: start..end,
            content: pos..end,
        });
        pos = end;
    }
    Ok(out)
}

/// The name and payload of a custom section's content.
pub fn custom_section_parts<'a>(
    bytes: &'a [u8],
    section: &Section,
) -> Result<(&'a str, &'a [u8]), SectionError> {
    let content = &bytes[section.content.clone()];
    let malformed = |what| SectionError::Malformed {
        what,
        offset: section.whole.start,
    };
    let mut pos = 0;
    let name_len = read_leb_u32(content, &mut pos)? as usize;
    let name_end = pos
        .checked_add(name_len)
        .filter(|end| *end <= content.len())
        .ok_or_else(|| malformed("custom section name runs past the section"))?;
    let name = std::str::from_utf8(&content[pos..name_end])
        .map_err(|_| malformed("custom section name is not UTF-8"))?;
    Ok((name, &content[name_end..]))
}

/// The payload of the first custom section called `name`, if any.
pub fn find_custom_section<'a>(
    bytes: &'a [u8],
    name: &str,
) -> Result<Option<&'a [u8]>, SectionError> {
    for section in sections(bytes)? {
        if section.id == CUSTOM_SECTION_ID {
            let (section_name, payload) = custom_section_parts(bytes, &section)?;
            if section_name == name {
                return Ok(Some(payload));
            }
        }
    }
    Ok(None)
}

/// The module without its custom sections called `name`, with a new one
/// called `name` holding `payload` appended.
pub fn replace_custom_section(
    bytes: &[u8],
    name: &str,
    payload: &[u8],
) -> Result<Vec<u8>, SectionError> {
    let mut out = Vec::with_capacity(bytes.len() + payload.len() + name.len() + 16);
    out.extend_from_slice(MODULE_HEADER);
    for section in sections(bytes)? {
        if section.id == CUSTOM_SECTION_ID && custom_section_parts(bytes, &section)?.0 == name {
            continue;
        }
        out.extend_from_slice(&bytes[section.whole]);
    }
    append_custom_section(&mut out, name, payload)?;
    Ok(out)
}

/// Appends a custom section: id 0, content size, name length, name, payload.
pub fn append_custom_section(
    out: &mut Vec<u8>,
    name: &str,
    payload: &[u8],
) -> Result<(), SectionError> {
    let too_large = SectionError::Malformed {
        what: "custom section larger than 4 GiB",
        offset: out.len(),
    };
    let name_len = u32::try_from(name.len()).map_err(|_| too_large.clone())?;
    let mut content = Vec::with_capacity(name.len() + payload.len() + 5);
    write_leb_u32(&mut content, name_len);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let size = u32::try_from(content.len()).map_err(|_| too_large)?;
    out.push(CUSTOM_SECTION_ID);
    write_leb_u32(out, size);
    out.extend_from_slice(&content);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &[u8] = MODULE_HEADER;

    #[test]
    fn leb_round_trip() {
        for value in [0u32, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_leb_u32(&mut out, value);
            let mut pos = 0;
            assert_eq!(read_leb_u32(&out, &mut pos), Ok(value));
            assert_eq!(pos, out.len());
        }
        assert_eq!(write_leb(624_485), vec![0xe5, 0x8e, 0x26]);
    }

    fn write_leb(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_leb_u32(&mut out, v);
        out
    }

    #[test]
    fn append_find_replace() {
        let mut module = EMPTY.to_vec();
        append_custom_section(&mut module, "other", b"x").unwrap();
        append_custom_section(&mut module, "meta", b"old").unwrap();
        assert_eq!(find_custom_section(&module, "meta"), Ok(Some(&b"old"[..])));
        let replaced = replace_custom_section(&module, "meta", b"new").unwrap();
        assert_eq!(
            find_custom_section(&replaced, "meta"),
            Ok(Some(&b"new"[..]))
        );
        assert_eq!(find_custom_section(&replaced, "other"), Ok(Some(&b"x"[..])));
        assert_eq!(sections(&replaced).unwrap().len(), 2);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(sections(b"nope"), Err(SectionError::NotWasm));
        assert_eq!(
            sections(b"\0asm\x0d\0\x01\0"),
            Err(SectionError::UnsupportedVersion)
        );
        let mut truncated = EMPTY.to_vec();
        truncated.extend_from_slice(&[0, 0x80]);
        assert!(matches!(
            sections(&truncated),
            Err(SectionError::Malformed { .. })
        ));
        let mut past_end = EMPTY.to_vec();
        past_end.extend_from_slice(&[0, 10, 1]);
        assert!(matches!(
            sections(&past_end),
            Err(SectionError::Malformed { .. })
        ));
        let mut bad_name = EMPTY.to_vec();
        bad_name.extend_from_slice(&[0, 2, 9, b'a']);
        assert!(matches!(
            find_custom_section(&bad_name, "a"),
            Err(SectionError::Malformed { .. })
        ));
    }
}

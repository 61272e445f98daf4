//! ICCS codes: the UNODC International Classification of Crime for
//! Statistical Purposes (2015, v1.0), which crime statistics are classified
//! by. An item or option that denotes a crime type carries the code of its
//! ICCS category (`iccs: "0401"` for robbery); the codebook and estimate
//! tables by crime type repeat it, so a survey's figures line up with
//! police and court statistics of the same category.
//!
//! A code is the digits of one level of the hierarchy: two for a section
//! (`05` acts against property only), four for a division (`0501`
//! burglary), five for a group (`05012` burglary of private residential
//! premises), six for a class (`050211`). Sections run from 01 to 11, and
//! no level below the section is numbered 0. Only the form is checked: the
//! list of categories is UNODC's, and a national adaptation may use a
//! category this file does not know.

/// The eleven sections (level 1) of ICCS, by code.
pub const SECTIONS: [(&str, &str); 11] = [
    ("01", "Acts leading to death or intending to cause death"),
    (
        "02",
        "Acts causing harm or intending to cause harm to the person",
    ),
    ("03", "Injurious acts of a sexual nature"),
    (
        "04",
        "Acts against property involving violence or threat against a person",
    ),
    ("05", "Acts against property only"),
    (
        "06",
        "Acts involving controlled psychoactive substances or other drugs",
    ),
    ("07", "Acts involving fraud, deception or corruption"),
    (
        "08",
        "Acts against public order, authority and provisions of the State",
    ),
    ("09", "Acts against public safety and state security"),
    ("10", "Acts against the natural environment"),
    ("11", "Other criminal acts not elsewhere classified"),
];

/// Why a text is not an ICCS code, in words that say how to write one.
pub fn check_code(code: &str) -> Result<(), String> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{code}` is not an ICCS code: a code is digits only, such as \"0401\""
        ));
    }
    if !matches!(code.len(), 2 | 4 | 5 | 6) {
        return Err(format!(
            "`{code}` is not an ICCS code: a code has 2 digits (section), 4 (division), 5 (group) or 6 (class), such as \"05\", \"0501\", \"05012\""
        ));
    }
    if section(code).is_none() {
        return Err(format!(
            "`{code}` is not an ICCS code: the section (the first two digits) runs from 01 to 11"
        ));
    }
    if code.len() >= 4 && &code[2..4] == "00" || code.len() >= 5 && code[4..].contains('0') {
        return Err(format!(
            "`{code}` is not an ICCS code: no level below the section is numbered 0"
        ));
    }
    Ok(())
}

/// The name of the section a code belongs to.
pub fn section(code: &str) -> Option<&'static str> {
    let head = code.get(..2)?;
    SECTIONS
        .iter()
        .find(|(c, _)| *c == head)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_every_level_are_accepted() {
        for code in [
            "02", "0201", "02011", "020111", "0501", "05021", "07031", "11",
        ] {
            assert_eq!(check_code(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn malformed_codes_say_how_to_write_one() {
        let e = check_code("201").expect_err("three digits");
        assert!(e.contains("2 digits (section), 4 (division)"), "{e}");
        let e = check_code("02a1").expect_err("a letter");
        assert!(e.contains("digits only"), "{e}");
        let e = check_code("1201").expect_err("no section 12");
        assert!(e.contains("runs from 01 to 11"), "{e}");
        assert!(check_code("00").is_err());
        assert!(check_code("").is_err());
        let e = check_code("0500").expect_err("division 00");
        assert!(e.contains("numbered 0"), "{e}");
        assert!(check_code("05010").is_err());
        assert!(check_code("0201100").is_err(), "seven digits");
    }

    #[test]
    fn a_code_names_its_section() {
        assert_eq!(
            section("0401"),
            Some("Acts against property involving violence or threat against a person")
        );
        assert_eq!(
            section("07031"),
            Some("Acts involving fraud, deception or corruption")
        );
        assert_eq!(section("12"), None);
    }
}

//! Names in ASCII, as Kommo's `sanitized_name` shows them ("the name in
//! ASCII encoding"): Cyrillic letters are transliterated (Russian,
//! Ukrainian and Belarusian letters, in the scheme PHP's common ASCII
//! helpers use: `ж` zh, `х` kh, `ц` ts, `щ` shch, `ю` yu, `я` ya, hard and
//! soft signs dropped), Latin letters lose their accents (`é` e, `ß` ss,
//! `æ` ae, `ł` l). ASCII stays as it is, except characters that break a
//! path or a header (`/ \ " ' < > : | ? * % #`), which become `_`, as does
//! anything else outside ASCII (other scripts, symbols, emoji).

/// `text` in ASCII. Never empty when `text` is not: a name whose letters
/// all transliterate to nothing (`ъ`) is `_`.
pub fn to_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous_upper = false;
    while let Some(c) = chars.next() {
        let upper_before = std::mem::replace(&mut previous_upper, c.is_uppercase());
        if c.is_ascii() {
            out.push(if c.is_ascii_control() || BREAKS_PATHS.contains(&c) { '_' } else { c });
            continue;
        }
        let lower = c.to_lowercase().next().unwrap_or(c);
        let Some(latin) = cyrillic(lower).or_else(|| accented_latin(lower)) else {
            out.push('_');
            continue;
        };
        if c == lower {
            out.push_str(latin);
        } else {
            // An uppercase letter: all caps inside an uppercase word
            // (`ЩИТ` SHCHIT, `ЁЖ` YOZH), else only the first letter
            // (`Щит` Shchit, `Ж` Zh).
            let next = chars.peek();
            let all_caps = next.is_some_and(|n| n.is_uppercase())
                || (upper_before && !next.is_some_and(|n| n.is_lowercase()));
            let mut letters = latin.chars();
            if let Some(first) = letters.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(letters.map(|l| if all_caps { l.to_ascii_uppercase() } else { l }));
            }
        }
    }
    if out.is_empty() && !text.is_empty() {
        out.push('_');
    }
    out
}

/// ASCII characters that break a download path or a header.
const BREAKS_PATHS: [char; 12] = ['/', '\\', '"', '\'', '<', '>', ':', '|', '?', '*', '%', '#'];

/// A lowercase Cyrillic letter in Latin letters.
fn cyrillic(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' => "e",
        'ё' => "yo",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ы' => "y",
        'э' => "e",
        'ю' => "yu",
        'я' => "ya",
        // Ukrainian and Belarusian.
        'є' => "ye",
        'і' => "i",
        'ї' => "yi",
        'ґ' => "g",
        'ў' => "u",
        _ => return None,
    })
}

/// A lowercase Latin letter with a diacritic (Latin-1 and Latin
/// Extended-A) without it.
fn accented_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_stay_as_they_are() {
        for name in ["source", "Q3 summary", "report-2026_v2 (final)", "a+b=c, d & e!", ".env"] {
            assert_eq!(to_ascii(name), name);
        }
    }

    #[test]
    fn russian_is_transliterated_keeping_case() {
        assert_eq!(to_ascii("Отчёт за квартал"), "Otchyot za kvartal");
        assert_eq!(to_ascii("Щука и ёж"), "Shchuka i yozh");
        assert_eq!(to_ascii("ЩИТ"), "SHCHIT");
        assert_eq!(to_ascii("Ж"), "Zh");
        assert_eq!(to_ascii("ЁЖ и ЁЖИК"), "YOZH i YOZHIK");
        assert_eq!(to_ascii("Юля, Яна, Цех, Хор"), "Yulya, Yana, Tsekh, Khor");
        assert_eq!(to_ascii("подъезд объявлений"), "podezd obyavleniy");
        assert_eq!(to_ascii("Счёт №15"), "Schyot _15");
        assert_eq!(
            to_ascii("Київ, Ґанок, Єва, Мінск, Ўзвышша"),
            "Kiyiv, Ganok, Yeva, Minsk, Uzvyshsha"
        );
    }

    #[test]
    fn latin_letters_lose_their_accents() {
        assert_eq!(to_ascii("Relatório Q3"), "Relatorio Q3");
        assert_eq!(to_ascii("Crème brûlée à la française"), "Creme brulee a la francaise");
        assert_eq!(to_ascii("Straße Ærø Œuvre Łódź"), "Strasse Aero Oeuvre Lodz");
        assert_eq!(to_ascii("ÉCOLE"), "ECOLE");
        assert_eq!(to_ascii("Ñandú Çağrı Škoda Þór"), "Nandu Cagri Skoda Thor");
    }

    #[test]
    fn path_and_header_breakers_and_other_scripts_become_underscores() {
        assert_eq!(to_ascii(r#"a/b\c"d?e*f:g|h<i>j'k%l#m"#), "a_b_c_d_e_f_g_h_i_j_k_l_m");
        assert_eq!(to_ascii("报告 2026"), "__ 2026");
        assert_eq!(to_ascii("plan 🚀"), "plan _");
        assert_eq!(to_ascii("tab\there"), "tab_here");
    }

    #[test]
    fn the_result_is_ascii_and_never_empty() {
        assert_eq!(to_ascii("ъ"), "_");
        assert_eq!(to_ascii("ЪЬ"), "_");
        assert_eq!(to_ascii(""), "");
        for name in ["Отчёт", "Ærø", "报告", "plan 🚀", "ЩИТ"] {
            assert!(to_ascii(name).is_ascii(), "{name}");
        }
    }
}

//! The widget's words, in English and Brazilian Portuguese. The language
//! comes from an option or else the browser; anything that is not
//! Portuguese gets English.

/// Every text the widget shows or announces.
#[derive(Debug, PartialEq, Eq)]
pub struct Strings {
    pub drop_here: &'static str,
    pub or: &'static str,
    pub choose: &'static str,
    pub paste_hint: &'static str,
    pub files_label: &'static str,
    pub queued: &'static str,
    pub hashing: &'static str,
    pub uploading: &'static str,
    pub paused: &'static str,
    pub offline: &'static str,
    pub retrying: &'static str,
    pub done: &'static str,
    pub failed: &'static str,
    pub cancelled: &'static str,
    pub pause: &'static str,
    pub resume: &'static str,
    pub cancel: &'static str,
    pub retry: &'static str,
    pub left: &'static str,
    pub progress_of: &'static str,
    pub announce_done: &'static str,
    pub announce_failed: &'static str,
    pub overall: &'static str,
}

pub const EN: Strings = Strings {
    drop_here: "Drop files here",
    or: "or",
    choose: "Choose files",
    paste_hint: "You can also paste files.",
    files_label: "Uploads",
    queued: "Waiting",
    hashing: "Checking what the server has",
    uploading: "Uploading",
    paused: "Paused",
    offline: "Offline, waiting for the network",
    retrying: "Connection trouble, retrying",
    done: "Done",
    failed: "Failed",
    cancelled: "Cancelled",
    pause: "Pause",
    resume: "Resume",
    cancel: "Cancel",
    retry: "Retry",
    left: "left",
    progress_of: "Upload progress of",
    announce_done: "Uploaded",
    announce_failed: "Upload failed",
    overall: "All uploads",
};

pub const PT_BR: Strings = Strings {
    drop_here: "Solte os arquivos aqui",
    or: "ou",
    choose: "Escolher arquivos",
    paste_hint: "Você também pode colar arquivos.",
    files_label: "Envios",
    queued: "Aguardando",
    hashing: "Verificando o que o servidor já tem",
    uploading: "Enviando",
    paused: "Pausado",
    offline: "Sem conexão, aguardando a rede",
    retrying: "Problema de conexão, tentando de novo",
    done: "Concluído",
    failed: "Falhou",
    cancelled: "Cancelado",
    pause: "Pausar",
    resume: "Continuar",
    cancel: "Cancelar",
    retry: "Tentar de novo",
    left: "restantes",
    progress_of: "Progresso do envio de",
    announce_done: "Enviado",
    announce_failed: "Falha no envio",
    overall: "Todos os envios",
};

/// The strings for a BCP 47 language tag such as `pt-BR`, `pt` or `en-US`.
pub fn strings_for(language: &str) -> &'static Strings {
    let primary = language.split(['-', '_']).next().unwrap_or_default();
    if primary.eq_ignore_ascii_case("pt") {
        &PT_BR
    } else {
        &EN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portuguese_tags_get_brazilian_portuguese_and_the_rest_english() {
        assert_eq!(strings_for("pt-BR"), &PT_BR);
        assert_eq!(strings_for("pt"), &PT_BR);
        assert_eq!(strings_for("PT_br"), &PT_BR);
        assert_eq!(strings_for("en-US"), &EN);
        assert_eq!(strings_for("de"), &EN);
        assert_eq!(strings_for(""), &EN);
    }

    #[test]
    fn no_string_is_left_untranslated_or_empty() {
        let en = format!("{EN:?}");
        let pt = format!("{PT_BR:?}");
        assert!(!en.contains("\"\"") && !pt.contains("\"\""));
        // Field by field, the two differ (nothing copied over by mistake),
        // except words both languages share.
        let pairs: Vec<(&str, &str)> = en
            .split(", ")
            .zip(pt.split(", "))
            .filter_map(|(a, b)| Some((a.split_once(": ")?.1, b.split_once(": ")?.1)))
            .collect();
        assert_eq!(pairs.len(), 23);
        for (a, b) in pairs {
            assert_ne!(a, b, "untranslated: {a}");
        }
    }
}

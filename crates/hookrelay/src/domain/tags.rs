//! The `chat_changed` rule: LiveChat sends `chat_changed` "only when the tag list for a particular
//! chat was changed, no matter if the chat is pending or not".

/// Whether `current` differs from `previous` as a set of tags. Both must be sorted and free of
/// duplicates (events are normalised on ingest), so a reordering is not a change. A chat never seen
/// before counts as having had no tags.
pub fn tags_changed(previous: &[String], current: &[String]) -> bool {
    previous != current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_tags_are_no_change() {
        assert!(!tags_changed(
            &tags(&["sales", "support"]),
            &tags(&["sales", "support"])
        ));
        assert!(!tags_changed(&[], &[]));
    }

    #[test]
    fn an_added_or_removed_tag_is_a_change() {
        assert!(tags_changed(
            &tags(&["sales"]),
            &tags(&["sales", "support"])
        ));
        assert!(tags_changed(&tags(&["sales"]), &[]));
        assert!(tags_changed(&[], &tags(&["vip"])));
    }
}

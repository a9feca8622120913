use super::*;

fn root(text: &str) -> Node {
    parse(text).expect("parses").root.expect("a document")
}

fn at(line: usize, column: usize) -> Position {
    Position { line, column }
}

#[test]
fn keys_and_values_in_block_and_flow_style() {
    let text = "a: 1\nrules:\n  - name: x\n    kick: {class: p, service: q}\n  - name: y\n";
    let doc = root(text);
    let Value::Mapping(top) = &doc.value else {
        panic!("{doc:?}")
    };
    assert_eq!(top[0].0.position, at(1, 1));
    assert_eq!(top[0].1.position, at(1, 4));
    let rules = doc.get("rules").expect("rules");
    let Value::Sequence(items) = &rules.value else {
        panic!("{rules:?}")
    };
    assert_eq!(items[0].position, at(3, 5));
    assert_eq!(items[0].get("name").expect("name").position, at(3, 11));
    let kick = items[0].get("kick").expect("kick");
    assert_eq!(kick.position, at(4, 12));
    let Value::Mapping(kick_entries) = &kick.value else {
        panic!("{kick:?}")
    };
    assert_eq!(kick_entries[1].0.position, at(4, 22));
    assert_eq!(items[1].get("name").expect("name").position, at(5, 11));
}

#[test]
fn scalars_follow_the_core_schema() {
    let doc = root(
        "a: true\nb: yes\nc: 30\nd: 30s\ne: '30'\nf: ~\ng:\nh: 1.5e3\ni: 0x1F\nj: !!str 12\nk: !custom x\n",
    );
    let kind = |key: &str| doc.get(key).expect(key).describe();
    assert_eq!(kind("a"), "a boolean");
    assert_eq!(kind("b"), "a string");
    assert_eq!(kind("c"), "a number");
    assert_eq!(kind("d"), "a string");
    assert_eq!(kind("e"), "a string");
    assert_eq!(kind("f"), "nothing");
    assert_eq!(kind("g"), "nothing");
    assert_eq!(kind("h"), "a number");
    assert_eq!(doc.get("i").and_then(Node::as_u64), Some(31));
    assert_eq!(kind("j"), "a string");
    assert_eq!(kind("k"), "a tagged value");
}

#[test]
fn a_key_written_twice_is_found_at_its_second_place_and_the_first_kept() {
    let doc = parse("a: 1\nb: 2\na: 3\n").expect("parses");
    assert_eq!(doc.duplicates, [("a".to_owned(), at(3, 1))]);
    let root = doc.root.expect("a document");
    assert_eq!(root.get("a").and_then(Node::as_u64), Some(1));
}

#[test]
fn complex_keys_do_not_derail_the_reader() {
    let doc = root("? [a, b]\n: 1\nc: 2\n");
    assert_eq!(doc.get("c").expect("c").position, at(3, 4));
}

#[test]
fn nesting_is_bounded_at_the_level_that_goes_too_deep() {
    let deep = format!("rules:\n{}", "  [\n".repeat(100));
    let error = parse(&deep).expect_err("too deep");
    assert_eq!(error.position, at(1 + MAX_DEPTH, 3));
    assert!(error.message.contains("nested more than 64"), "{error:?}");
    // The scanner's own limit, met while it looks ahead on one line.
    let error = parse(&format!("rules: {}", "[".repeat(100_000))).expect_err("too deep");
    assert_eq!(error.position.line, 1);
    assert!(error.message.contains("nested more than 64"), "{error:?}");
    let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse(&fine).is_ok());
}

#[test]
fn aliases_expand_within_a_bound() {
    let doc = root("a: &x [1, 2]\nb: *x\n");
    assert!(matches!(&doc.get("b").expect("b").value, Value::Sequence(s) if s.len() == 2));
    let mut laughs = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h"])
    {
        laughs.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    let error = parse(&laughs).expect_err("too many values");
    assert!(
        error
            .message
            .contains("anchors and aliases copy more than 65536"),
        "{error:?}"
    );
    // An anchor on each of 60 levels around a list of 2,000 values: each
    // anchor keeps a copy, 120,000 values in all.
    let mut nest = String::new();
    for level in 0..60 {
        nest.push_str(&format!("&n{level} ["));
    }
    nest.push_str(&vec!["1"; 2000].join(","));
    nest.push_str(&"]".repeat(60));
    let error = parse(&nest).expect_err("too many values copied");
    assert!(error.message.contains("copy more than"), "{error:?}");
}

#[test]
fn one_document_only() {
    let error = parse("a: 1\n---\nb: 2\n").expect_err("two documents");
    assert_eq!(error.position.line, 2);
    assert!(parse("# only a comment\n").expect("parses").root.is_none());
}

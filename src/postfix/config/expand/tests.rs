use super::*;

fn run(value: &str, vars: &[(&str, &str)]) -> (Result<String, ExpandFailure>, Vec<String>) {
    let lookup = |name: &[u8]| {
        vars.iter()
            .find(|(k, _)| k.as_bytes() == name)
            .map(|(_, v)| v.as_bytes().to_vec())
    };
    let mut warnings = Vec::new();
    let result = expand(value.as_bytes(), &lookup, &mut |w| {
        warnings.push(w.to_string())
    });
    let result = result.map(|v| String::from_utf8(v).expect("utf8"));
    (result, warnings)
}

fn ok(value: &str, vars: &[(&str, &str)]) -> String {
    let (result, warnings) = run(value, vars);
    assert!(warnings.is_empty(), "{warnings:?}");
    result.expect("expands")
}

fn fails(value: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let (result, warnings) = run(value, vars);
    assert_eq!(result, Err(ExpandFailure::Macro));
    warnings
}

#[test]
fn names_in_all_three_spellings_and_dollar_dollar() {
    let vars = [("a", "A"), ("b_1", "B")];
    assert_eq!(ok("x$a-${b_1}-$(a)-$$a-$undefined.", &vars), "xA-B-A-$a-.");
}

#[test]
fn expansion_is_recursive() {
    let vars = [("q", "$base/spool"), ("base", "${root}var"), ("root", "/")];
    assert_eq!(ok("$q", &vars), "/var/spool");
}

#[test]
fn conditional_forms_pick_one_branch() {
    let vars = [("set", "x"), ("empty", "")];
    assert_eq!(ok("${set?yes}", &vars), "yes");
    assert_eq!(ok("${empty?yes}", &vars), "");
    assert_eq!(ok("${unset:no}", &vars), "no");
    assert_eq!(ok("${empty:no}", &vars), "no");
    assert_eq!(ok("${set:no}", &vars), "");
    assert_eq!(ok("${set?{$set}:{b}}", &vars), "x");
    assert_eq!(ok("${ empty ? {a} : {b} }", &vars), "b");
}

#[test]
fn untaken_branch_is_not_expanded() {
    assert_eq!(ok("${unset?{$}}", &[]), "");
}

#[test]
fn relational_forms_compare_numbers_strings_and_levels() {
    let vars = [("n", "10")];
    assert_eq!(ok("${{$n} == {10}?{eq}:{ne}}", &vars), "eq");
    assert_eq!(ok("${{9} < {10}}", &vars), "true");
    assert_eq!(ok("${{9} < {10x}}", &vars), "");
    assert_eq!(ok("${{3.6} <level {1}?{old}:{new}}", &vars), "new");
    assert_eq!(ok("${{0} <level {1} ? {no} : {yes}}", &vars), "no");
}

#[test]
fn self_reference_is_an_unreasonable_nesting() {
    let warnings = fails(
        "$queue_directory",
        &[("queue_directory", "$queue_directory")],
    );
    assert_eq!(
        warnings,
        vec!["unreasonable macro call nesting: \"queue_directory\""]
    );
}

#[test]
fn syntax_errors_are_worded_as_postfix_words_them() {
    assert_eq!(fails("a$", &[]), vec!["empty macro name: \"a$\""]);
    assert_eq!(
        fails("${a", &[]),
        vec!["truncated macro reference: \"${a\""]
    );
    assert_eq!(
        fails("${a-b}", &[]),
        vec!["attribute name syntax error at: \"...a>>>-b\""]
    );
    assert_eq!(
        fails("${a?{b}junk}", &[("a", "1")]),
        vec!["\":\" expected at: \"...b}>>>junk\""]
    );
    assert_eq!(
        fails("${{a} ~ {b}}", &[]),
        vec!["\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\" expected at: \"...a}>>>~ {b}\""]
    );
    assert_eq!(
        fails("${{a} <lvl {b}}", &[]),
        vec!["bad operator suffix at: \"...<>>>lvl\""]
    );
    assert_eq!(
        fails("${{bogus} <level {1}}", &[]),
        vec!["malformed compatibility level syntax: \"bogus\""]
    );
}

#[test]
fn oversized_numbers_are_a_bad_conversion() {
    let (result, _) = run("${{99999999999999999999} == {1}}", &[]);
    assert_eq!(
        result,
        Err(ExpandFailure::BadConversion(
            b"99999999999999999999".to_vec()
        ))
    );
}

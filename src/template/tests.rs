use super::*;

const PASSWORD: &str = "k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk=";

fn vars() -> Variables<'static> {
    [("password", PASSWORD), ("username", "sofia-at-1")].into()
}

#[test]
fn ordinary_templates_render() {
    let out = render(
        "https://{{ username | urlencode }}:{{ password | urlencode }}@host{% if username != '' %}/ok{% else %}/no{% endif %}",
        &vars(),
        MAX_RENDERED_TOTAL,
    )
    .unwrap();
    assert_eq!(
        out,
        "https://sofia-at-1:k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk%3D@host/ok"
    );
    assert_eq!(
        render(
            "{{ username | replace('-', '') | upper | length }}",
            &vars(),
            100
        )
        .unwrap(),
        "8"
    );
    let empty_from = format!("{{{{ password | replace('', '{}') }}}}", "a".repeat(2000));
    assert!(matches!(
        render(&empty_from, &vars(), MAX_RENDERED_TOTAL),
        Err(TemplateError::TooLarge { .. })
    ));
}

#[test]
fn syntax_that_can_grow_or_escape_is_refused_by_name() {
    for (source, what) in [
        ("{{ 'x' * 10 }}", "`*`"),
        ("{% set a = password %}{{ a }}", "`set`"),
        ("{% for c in password %}{{ c }}{% endfor %}", "`for`"),
        ("{% include 'x' %}", "`include`"),
        ("{% macro m() %}{% endmacro %}", "`macro`"),
        ("{{ password | join(',') }}", "filter `join`"),
        ("{{ range(10) }}", "function calls"),
        ("{{ password[1:] }}", "slicing"),
        ("{{ nope }}", "unknown variable `nope`"),
        (
            "{% if password == 'x' %}a{% endif %}",
            "using `password` in a condition",
        ),
        ("{{ password | length }}", "using `password`"),
        ("{{ 'a' if 'k' in password else 'b' }}", "using `password`"),
        (
            "{{ username | replace(password, 'x') }}",
            "using `password`",
        ),
    ] {
        let err = check(source, &["password", "username"]).unwrap_err();
        assert!(err.to_string().contains(what), "{source}: {err}");
    }
}

#[test]
fn outputs_are_bounded() {
    let nested = format!(
        "{{{{ password{} }}}}",
        "|replace('k', 'kkkkkkkkkk')".repeat(7)
    );
    assert!(matches!(
        render(&nested, &vars(), MAX_RENDERED_TOTAL),
        Err(TemplateError::TooLarge { .. })
    ));
    assert!(matches!(
        render("{{ password }}", &vars(), 10),
        Err(TemplateError::TooLarge { limit: 10 })
    ));
    assert_eq!(
        check(&"x".repeat(MAX_TEMPLATE_SOURCE + 1), &[]),
        Err(TemplateError::SourceTooLong)
    );
}

#[test]
fn render_errors_hold_no_value() {
    let err = render("{{ password ~ (username == 1) | length }}", &vars(), 1000);
    if let Err(e) = err {
        assert!(!e.to_string().contains("k1zP"), "{e}");
    }
}

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_give_the_documented_ports() {
    let s = Settings::defaults().unwrap();
    let ports: Vec<u16> = Service::ALL.iter().map(|svc| s.http.port(*svc)).collect();
    assert_eq!(ports, [8081, 8082, 8083, 8084, 8085, 8086]);
}

#[test]
fn environment_overrides_defaults() {
    let s = Settings::load_with(
        None,
        env(&[
            ("OMNI__HTTP__PORTS__ORDERS", "9000"),
            ("OMNI__KAFKA__BOOTSTRAP_SERVERS", "k:9092"),
        ]),
    )
    .unwrap();
    assert_eq!(s.http.port(Service::Orders), 9000);
    assert_eq!(s.kafka.bootstrap_servers, "k:9092");
}

#[test]
fn a_wrong_type_names_the_key() {
    let err = Settings::load_with(None, env(&[("OMNI__HTTP__BODY_LIMIT_BYTES", "lots")])).unwrap_err();
    assert!(err.to_string().contains("body_limit_bytes"), "{err}");
}

#[test]
fn a_port_clash_names_the_key() {
    let err = Settings::load_with(None, env(&[("OMNI__HTTP__PORTS__ORDERS", "8081")])).unwrap_err();
    assert!(
        err.to_string()
            .contains("http.ports.orders` reuses port 8081 of catalog"),
        "{err}"
    );
}

#[test]
fn a_bad_redis_url_names_the_key() {
    let err = Settings::load_with(None, env(&[("OMNI__REDIS__URL", "http://x")])).unwrap_err();
    assert!(err.to_string().contains("`redis.url`"), "{err}");
}

#[test]
fn printed_settings_never_show_secrets() {
    let s = Settings::load_with(
        None,
        env(&[
            ("OMNI__DATABASE__URL", "postgres://u:hunter2@db/omni"),
            ("OMNI__PAYMENTS__KEY_ENCRYPTION_KEY", "c2VjcmV0"),
        ]),
    )
    .unwrap();
    let printed = s.to_redacted_toml();
    assert!(
        !printed.contains("hunter2") && !printed.contains("c2VjcmV0"),
        "{printed}"
    );
    assert!(printed.contains("[redacted]"), "{printed}");
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn the_psp_is_the_sandbox_in_process_or_served_on_its_own_at_a_url() {
    let psp = |pairs: &[(&str, &str)]| Settings::load_with(None, env(pairs));
    assert_eq!(psp(&[]).unwrap().payments.psp, "sandbox");
    let served = psp(&[
        ("OMNI__PAYMENTS__PSP", "sandbox-http"),
        ("OMNI__PAYMENTS__PSP_URL", "http://127.0.0.1:8090"),
    ])
    .unwrap();
    assert_eq!(served.payments.psp_url, "http://127.0.0.1:8090");
    let err = psp(&[("OMNI__PAYMENTS__PSP", "sandbox-http")]).unwrap_err();
    assert!(err.to_string().contains("payments.psp_url"), "{err}");
    let err = psp(&[("OMNI__PAYMENTS__PSP", "stripe")]).unwrap_err();
    assert!(err.to_string().contains("payments.psp"), "{err}");
}

use super::*;

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn serve(cli: Cli) -> Box<ServeArgs> {
    match cli.command {
        Command::Serve(s) => s,
        other => panic!("expected serve, got {other:?}"),
    }
}

#[test]
fn defaults_are_sane() {
    let s = serve(Cli::parse_with_config(args(&["cairn-relay", "serve"])).unwrap());
    assert_eq!(s.threads, 0, "one worker per CPU unless asked");
    let c = s.to_config().unwrap();
    assert_eq!(c.listen.port(), 7447);
    assert_eq!(c.store.ttl_secs, 21 * 86_400);
    assert_eq!(c.store.max_bytes, 100 << 20);
    assert_eq!(c.access, AccessMode::Open);
    assert!(matches!(
        c.transport,
        TransportConfig::Tls { cert_and_key: None }
    ));
}

#[test]
fn config_file_fills_what_flags_did_not_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nquota_messages = 5\naccess = \"token\"\nlog-ips = true\nthreads = 1\n",
    )
    .unwrap();
    let cli = Cli::parse_with_config(args(&[
        "cairn-relay",
        "serve",
        "--config",
        file.to_str().unwrap(),
        "--quota-messages",
        "7",
    ]))
    .unwrap();
    let s = serve(cli);
    assert_eq!(s.listen.port(), 9000);
    assert_eq!(s.quota_messages, 7, "flag beats file");
    assert_eq!(s.access, AccessArg::Token);
    assert!(s.log_ips);
    assert_eq!(s.threads, 1);
}

#[test]
fn config_file_rejects_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(&file, "lisen = \"x\"\n").unwrap();
    let err = Cli::parse_with_config(args(&[
        "cairn-relay",
        "serve",
        "--config",
        file.to_str().unwrap(),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("unknown setting"), "{err}");
}

#[test]
fn plaintext_only_on_loopback() {
    let s = serve(
        Cli::parse_with_config(args(&["cairn-relay", "serve", "--insecure-plaintext"])).unwrap(),
    );
    assert!(matches!(
        s.to_config(),
        Err(CliError::PlaintextNotLoopback(_))
    ));
}

#[test]
fn sizes() {
    assert_eq!(parse_size("100M").unwrap(), 100 << 20);
    assert_eq!(parse_size("512k").unwrap(), 512 << 10);
    assert_eq!(parse_size("42").unwrap(), 42);
    assert!(parse_size("G").is_err());
}

#[test]
fn redis_store_from_flags_config_file_and_token_command() {
    let s = serve(Cli::parse_with_config(args(&["cairn-relay", "serve"])).unwrap());
    assert!(
        s.store.redis_options(StoreLimits::default()).is_none(),
        "sqlite by default"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        "store = \"redis\"\nredis-url = \"redis://10.0.0.5:6379,redis://10.0.0.6:6379\"\n",
    )
    .unwrap();
    let config = file.to_string_lossy().into_owned();
    let s = serve(
        Cli::parse_with_config(args(&["cairn-relay", "serve", "--config", &config])).unwrap(),
    );
    let redis = s.store.redis_options(StoreLimits::default()).unwrap();
    assert_eq!(redis.urls.len(), 2);
    assert!(redis.is_cluster(), "several URLs are cluster seeds");

    let s = serve(
        Cli::parse_with_config(args(&[
            "cairn-relay",
            "serve",
            "--store",
            "redis",
            "--redis-url",
            "redis://127.0.0.1:7000",
            "--redis-cluster",
        ]))
        .unwrap(),
    );
    assert!(
        s.store
            .redis_options(StoreLimits::default())
            .unwrap()
            .is_cluster()
    );

    let cli = Cli::parse_with_config(args(&["cairn-relay", "token", "list", "--store", "redis"]))
        .unwrap();
    let Command::Token { store, .. } = cli.command else {
        panic!("expected token");
    };
    let redis = store.redis_options(StoreLimits::default()).unwrap();
    assert_eq!(redis.urls, vec!["redis://127.0.0.1:6379".to_owned()]);
    assert!(!redis.is_cluster());
}

#[test]
fn admin_default_gives_way_an_explicit_address_does_not() {
    let c = serve(Cli::parse_with_config(args(&["cairn-relay", "serve"])).unwrap())
        .to_config()
        .unwrap();
    assert_eq!(c.admin_listen, Some(AdminListen::default_best_effort()));
    let c = serve(
        Cli::parse_with_config(args(&[
            "cairn-relay",
            "serve",
            "--admin-listen",
            "127.0.0.1:9",
        ]))
        .unwrap(),
    )
    .to_config()
    .unwrap();
    assert_eq!(
        c.admin_listen,
        Some(AdminListen::required("127.0.0.1:9".parse().unwrap()))
    );
    let c = serve(Cli::parse_with_config(args(&["cairn-relay", "serve", "--no-admin"])).unwrap())
        .to_config()
        .unwrap();
    assert_eq!(c.admin_listen, None);
}

//! The arguments as the `hookrelay` binary's clap parser sees them.

use clap::{Parser, Subcommand};
use hookrelay_devtools::{ListenArgs, TriggerArgs};
use livechat_webhooks::EventType;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Listen(ListenArgs),
    Trigger(TriggerArgs),
}

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("hookrelay").chain(args.iter().copied())).map(|c| c.command)
}

#[test]
fn trigger_arguments_parse_as_documented() {
    let Ok(Command::Trigger(args)) = parse(&[
        "trigger",
        "chat_started",
        "--to",
        "http://x/",
        "--data-types",
        "chat,visitor",
        "--set",
        "visitor.email=a@b.c",
        "--set",
        "chat.id=1",
        "--repeat",
        "2",
    ]) else {
        panic!("did not parse");
    };
    assert_eq!(args.event_type, Some(EventType::ChatStarted));
    assert_eq!(args.data_types, ["chat", "visitor"]);
    assert_eq!(args.overrides, ["visitor.email=a@b.c", "chat.id=1"]);
    assert_eq!(args.repeat, 2);
}

#[test]
fn trigger_needs_an_event_type_or_a_file_and_a_known_event() {
    assert!(parse(&["trigger", "--to", "http://x/"]).is_err());
    assert!(parse(&["trigger", "--to", "http://x/", "--file", "p.json"]).is_ok());
    assert!(parse(&["trigger", "chat_closed", "--to", "http://x/"]).is_err());
    assert!(parse(&[
        "trigger",
        "chat_started",
        "--to",
        "http://x/",
        "--repeat",
        "0"
    ])
    .is_err());
}

#[test]
fn listen_arguments_parse_and_conflicting_auth_is_refused() {
    let Ok(Command::Listen(args)) = parse(&[
        "listen",
        "--port",
        "0",
        "--fail-first",
        "1",
        "--delay",
        "250",
        "--json",
    ]) else {
        panic!("did not parse");
    };
    assert_eq!(
        (
            args.port,
            args.fail_first,
            args.delay,
            args.json,
            args.status
        ),
        (0, 1, 250, true, 200)
    );
    assert!(parse(&["listen", "--basic-auth", "a:b", "--htpasswd", "f"]).is_err());
    assert!(parse(&["listen", "--status", "99"]).is_err());
}

#[test]
fn signing_secrets_are_repeatable_on_both_commands_and_absent_by_default() {
    let (a, b) = ("whsec_AAAA", "whsec_BBBB");
    let Ok(Command::Listen(args)) =
        parse(&["listen", "--signing-secret", a, "--signing-secret", b])
    else {
        panic!("did not parse");
    };
    assert_eq!(args.signing_secrets, [a, b]);
    let Ok(Command::Trigger(args)) = parse(&[
        "trigger",
        "chat_started",
        "--to",
        "http://x/",
        "--signing-secret",
        a,
    ]) else {
        panic!("did not parse");
    };
    assert_eq!(args.signing_secrets, [a]);
    let Ok(Command::Trigger(args)) = parse(&["trigger", "chat_started", "--to", "http://x/"])
    else {
        panic!("did not parse");
    };
    assert!(args.signing_secrets.is_empty());
}

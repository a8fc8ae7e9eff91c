//! `#[story]`: writes one story test once and runs it on every store backend.
//!
//! ```text
//! #[story]
//! async fn a_500_response_is_retried() { /* uses TestServer as usual */ }
//! ```
//!
//! becomes the plain `async fn` plus a module of the same name holding one `#[tokio::test]` per
//! backend (`on_sqlite`, `on_postgres`), each running the body inside
//! `crate::backend::on_backend(Backend::…, …)`, which is how `TestServer` learns which database
//! to use. Test names therefore read `a_500_response_is_retried::on_postgres`. Arguments are
//! passed to `#[tokio::test]` unchanged (`#[story(flavor = "multi_thread")]`).
//!
//! Written on `proc_macro` alone (no syn/quote): the input is only scanned for the function's
//! name, so the extra compile cost is nil.

use proc_macro::{TokenStream, TokenTree};

const BACKENDS: [(&str, &str); 2] = [("on_sqlite", "Sqlite"), ("on_postgres", "Postgres")];

#[proc_macro_attribute]
pub fn story(args: TokenStream, item: TokenStream) -> TokenStream {
    let name = match function_name(&item) {
        Some(name) => name,
        None => {
            return "compile_error!(\"#[story] goes on an `async fn name()` without arguments\");"
                .parse()
                .unwrap()
        }
    };
    let tokio_args = if args.is_empty() {
        String::new()
    } else {
        format!("({args})")
    };
    let mut tests = String::new();
    for (test, backend) in BACKENDS {
        tests.push_str(&format!(
            "#[::tokio::test{tokio_args}]
             async fn {test}() {{
                 crate::backend::on_backend(crate::backend::Backend::{backend}, super::{name}()).await
             }}"
        ));
    }
    let module: TokenStream = format!("mod {name} {{ {tests} }}").parse().unwrap();
    let mut out = TokenStream::new();
    out.extend(item);
    out.extend(module);
    out
}

/// The identifier after `fn`.
fn function_name(item: &TokenStream) -> Option<String> {
    let mut tokens = item.clone().into_iter();
    while let Some(token) = tokens.next() {
        if let TokenTree::Ident(ident) = &token {
            if ident.to_string() == "fn" {
                return match tokens.next() {
                    Some(TokenTree::Ident(name)) => Some(name.to_string()),
                    _ => None,
                };
            }
        }
    }
    None
}

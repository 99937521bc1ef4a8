//! The editor's SMTP server and local MTA (sendmail) sections.

use leptos::prelude::*;
use outmail_types::profile::{SmtpDraft, TransportDraft, TransportKind};
use outmail_types::{SecretInput, Security};

use super::{Draft, Form, TextField, some_text};

fn smtp(draft: &Draft) -> Option<&SmtpDraft<SecretInput>> {
    match &draft.transport {
        TransportDraft::Smtp(smtp) => Some(smtp),
        _ => None,
    }
}

fn smtp_mut(draft: &mut Draft) -> Option<&mut SmtpDraft<SecretInput>> {
    match &mut draft.transport {
        TransportDraft::Smtp(smtp) => Some(smtp),
        _ => None,
    }
}

/// The SMTP server: host, security, port and EHLO name.
#[component]
pub(super) fn SmtpSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    view! {
        <Show when=move || kind.get() == TransportKind::Smtp>
            <fieldset>
                <legend>"SMTP server"</legend>
                <TextField form path="transport.host" label="Server" required=true placeholder="smtp.example.com"
                    get=|d| smtp(d).map(|s| s.host.clone()).unwrap_or_default()
                    set=|d, v| if let Some(s) = smtp_mut(d) { s.host = v.trim().to_owned() } />
                <div class="field">
                    <label for="f-transport-security">"Security"</label>
                    <select
                        id="f-transport-security"
                        prop:value=move || form.draft.with(|d| smtp(d).map(|s| s.security.as_str()).unwrap_or_default())
                        on:change=move |e| {
                            let chosen = Security::ALL.into_iter().find(|s| s.as_str() == event_target_value(&e));
                            form.edit(|d| if let (Some(s), Some(security)) = (smtp_mut(d), chosen) { s.security = security });
                        }
                    >
                        <option value="starttls">"STARTTLS (required)"</option>
                        <option value="tls">"Implicit TLS"</option>
                        <option value="none">"None (plain text)"</option>
                    </select>
                    <p class="hint">"STARTTLS is never optional: a server that does not offer it is an error, never a plain-text fallback."</p>
                </div>
                <TextField form path="transport.port" label="Port" input_type="number"
                    get=|d| smtp(d).and_then(|s| s.port).map(|p| p.to_string()).unwrap_or_default()
                    set=|d, v| if let Some(s) = smtp_mut(d) { s.port = v.trim().parse().ok().or(if v.trim().is_empty() { None } else { Some(0) }) }
                    hint="Empty: 587 for STARTTLS, 465 for implicit TLS, 25 for none." />
                <TextField form path="transport.ehlo_name" label="EHLO name" placeholder="app.example.com"
                    get=|d| smtp(d).and_then(|s| s.ehlo_name.clone()).unwrap_or_default()
                    set=|d, v| if let Some(s) = smtp_mut(d) { s.ehlo_name = some_text(v) }
                    hint="The name outmail gives in EHLO; empty: this machine's name." />
            </fieldset>
        </Show>
    }
    .into_any()
}

/// The local MTA: which sendmail program takes the message.
#[component]
pub(super) fn LocalSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    view! {
        <Show when=move || kind.get() == TransportKind::Local>
            <fieldset>
                <legend>"Local MTA"</legend>
                <TextField form path="transport.sendmail_path" label="sendmail program" placeholder="/usr/sbin/sendmail"
                    get=|d| match &d.transport { TransportDraft::Local(l) => l.sendmail_path.clone().unwrap_or_default(), _ => String::new() }
                    set=|d, v| if let TransportDraft::Local(l) = &mut d.transport { l.sendmail_path = some_text(v) }
                    hint="Postfix, Exim, OpenSMTPD and Sendmail all install one." />
            </fieldset>
        </Show>
    }
    .into_any()
}

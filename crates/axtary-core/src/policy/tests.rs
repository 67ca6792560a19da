use super::*;

#[test]
fn smoke() {
    let src = r##"version: 1
rules:
  - id: no-secret-files
    effect: deny
    reason: agents never read secrets files
    match: {connector: [fs, shell]}
    when: {any_path: ["**/.env", "**/.env.*", "**/*.pem", "**/id_rsa*"]}
  - id: prod-infra-needs-two-sre
    effect: require_approval
    approvers: {group: sre-oncall, count: 2}
    match: {connector: github, operation: ["pull_request.*"]}
    when: {any_path: ["infra/prod/**"]}
  - id: prs-to-our-repos
    effect: alow
    match: {connector: slak, operation: ["pull_request.create", "issue.comment"], resource: ["github:acme/*"]}
  - id: bots-channel-only
    effect: allow
    match: {connector: slack, operation: chat.post}
    when: {fact: {chanel: {in: ["#eng-bots"]}, paths: {any_in: [x]}}, no_secrets: true}
"##;
    match Policy::load(src, &PolicyEnv::default()) {
        Ok(_) => panic!("should fail"),
        Err(d) => {
            for d in d {
                eprintln!("{}", d.render("policy.yaml", src));
            }
        }
    }
}

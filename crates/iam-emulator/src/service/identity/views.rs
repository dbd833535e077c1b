//! How roles and managed policies are written in IAM's answers, and the managed policies the emulator knows.

use crate::clock::iso8601;
use crate::protocol::Node;
use crate::store::{ManagedPolicy, Role, State};

/// IAM's percent-encoding of a policy document in its answers (RFC 3986: `%20` for spaces, as
/// `urllib.parse.unquote` and the SDKs' decoders expect).
pub fn url_encode(text: &str) -> String {
    crate::sigv4::uri_encode(text.as_bytes(), false)
}

/// Nodes of a tag list (`<Tags><member><Key/><Value/></member>…`).
fn tag_nodes(tags: &[(String, String)]) -> Node {
    Node::Branch(
        "Tags",
        tags.iter()
            .map(|(k, v)| {
                Node::Branch("member", vec![Node::leaf("Key", k), Node::leaf("Value", v)])
            })
            .collect(),
    )
}

fn boundary_node(arn: Option<&str>) -> Option<Node> {
    arn.map(|arn| {
        Node::Branch(
            "PermissionsBoundary",
            vec![
                Node::leaf("PermissionsBoundaryType", "Policy"),
                Node::leaf("PermissionsBoundaryArn", arn),
            ],
        )
    })
}

/// Which answer a role is written in: IAM leaves `Description` and `MaxSessionDuration` out of `CreateRole`'s,
/// and the boundary and tags out of `ListRoles`' (iam-api.md §16.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleView {
    Create,
    Get,
    List,
}

/// A role as `CreateRole`, `GetRole` and `ListRoles` show it.
pub fn role_node(s: &State, r: &Role, view: RoleView) -> Node {
    let mut n = vec![
        Node::leaf("Path", &r.path),
        Node::leaf("RoleName", &r.name),
        Node::leaf("RoleId", &r.id),
        Node::leaf("Arn", s.role_arn(r)),
        Node::leaf("CreateDate", iso8601(r.create_date)),
        Node::leaf("AssumeRolePolicyDocument", url_encode(&r.trust_policy)),
    ];
    if view != RoleView::Create {
        n.extend(Node::opt("Description", r.description.as_deref()));
        n.push(Node::leaf(
            "MaxSessionDuration",
            r.max_session_duration.to_string(),
        ));
    }
    if view != RoleView::List {
        n.extend(boundary_node(r.permissions_boundary.as_deref()));
        if !r.tags.is_empty() {
            n.push(tag_nodes(&r.tags));
        }
    }
    if view == RoleView::Get {
        // Never used here: `<RoleLastUsed/>`, as IAM answers for a role not yet used.
        n.push(Node::Branch("RoleLastUsed", Vec::new()));
    }
    Node::Branch(
        if view == RoleView::List {
            "member"
        } else {
            "Role"
        },
        n,
    )
}

pub(super) fn policy_node(s: &State, p: &ManagedPolicy) -> Node {
    let arn = policy_arn(s, p);
    let attachments = s
        .users
        .values()
        .filter(|u| u.attached_policies.contains(&arn))
        .count()
        + s.roles
            .values()
            .filter(|r| r.attached_policies.contains(&arn))
            .count();
    let mut n = vec![
        Node::leaf("PolicyName", &p.name),
        Node::leaf("DefaultVersionId", "v1"),
        Node::leaf("PolicyId", &p.id),
        Node::leaf("Path", &p.path),
        Node::leaf("Arn", arn),
        Node::leaf("AttachmentCount", attachments.to_string()),
        Node::leaf("PermissionsBoundaryUsageCount", "0"),
        Node::leaf("IsAttachable", "true"),
    ];
    n.extend(Node::opt("Description", p.description.as_deref()));
    n.push(Node::leaf("CreateDate", iso8601(p.create_date)));
    n.push(Node::leaf("UpdateDate", iso8601(p.create_date)));
    Node::Branch("Policy", n)
}

pub fn policy_arn(s: &State, p: &ManagedPolicy) -> String {
    format!("arn:aws:iam::{}:policy{}{}", s.account_id, p.path, p.name)
}

/// The document of a managed policy ARN: a customer managed policy of this account, or one of the AWS managed
/// policies the emulator knows ([`aws_managed`]).
pub fn managed_document(s: &State, arn: &str) -> Option<String> {
    s.managed_policies
        .get(arn)
        .map(|p| p.document.clone())
        .or_else(|| aws_managed(arn).map(str::to_string))
}

/// The AWS managed policies the emulator carries (the ones platform teams attach to operators and admins).
pub fn aws_managed(arn: &str) -> Option<&'static str> {
    match arn {
        "arn:aws:iam::aws:policy/AdministratorAccess" => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        "arn:aws:iam::aws:policy/IAMFullAccess" => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
        ),
        "arn:aws:iam::aws:policy/PowerUserAccess" => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetPrimaryEmail","account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization"],"Resource":"*"}]}"#,
        ),
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess" => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
        ),
        _ => None,
    }
}

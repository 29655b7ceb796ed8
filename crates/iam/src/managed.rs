//! AWS managed policies Rampart carries (`arn:aws:iam::aws:policy/…`), with their documents.

/// (name, path, document) of each AWS managed policy Rampart knows.
pub const AWS_MANAGED: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","kms:Describe*","kms:Get*","kms:List*","ssm:Describe*","ssm:Get*","ssm:List*","secretsmanager:Describe*","secretsmanager:List*","secretsmanager:GetResourcePolicy","acm:Describe*","acm:Get*","acm:List*","acm-pca:Describe*","acm-pca:Get*","acm-pca:List*","cloudtrail:Describe*","cloudtrail:Get*","cloudtrail:List*","cloudtrail:LookupEvents","wafv2:Get*","wafv2:List*","wafv2:Describe*","shield:Describe*","shield:List*","shield:Get*","fms:Get*","fms:List*","guardduty:Get*","guardduty:List*","guardduty:Describe*","inspector2:Get*","inspector2:List*","inspector2:Describe*","macie2:Get*","macie2:List*","macie2:Describe*","elasticloadbalancing:Describe*","sts:GetCallerIdentity"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AWSCloudTrail_ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:Get*","cloudtrail:Describe*","cloudtrail:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}"#,
    ),
    (
        "SecretsManagerReadWrite",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:*","kms:DescribeKey","kms:ListAliases","kms:ListKeys"],"Resource":"*"}]}"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    ),
];

/// The document of an AWS managed policy by ARN.
#[must_use]
pub fn aws_managed(arn: &str) -> Option<&'static str> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy")?;
    AWS_MANAGED
        .iter()
        .find(|(n, p, _)| format!("{p}{n}") == name || format!("/{n}") == name)
        .map(|(_, _, d)| *d)
}

//! Ledger accounts and their readable codes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::LedgerError;
use crate::money::{clip, Currency};

/// Longest office code; matches the `offices.code` check in the core migration.
const MAX_OFFICE_CODE_CHARS: usize = 8;
/// Longest channel, sector or bank-account segment of an account code.
const MAX_SEGMENT_CHARS: usize = 40;

/// What an account records; together with the office and currency it names one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Money a payment channel (KHQR, a bank gateway) owes the office until it settles.
    Clearing {
        /// Channel name, e.g. `khqr` or `aba_payway`.
        channel: String,
    },
    /// Cash held in the office's cashier drawer.
    CashDrawer,
    /// The office's settlement account at a bank.
    Bank {
        /// Short name or number of the bank account, e.g. `acleda-0012345`.
        account: String,
    },
    /// Fee revenue of one service sector.
    Revenue {
        /// Sector code, e.g. `construction`.
        sector: String,
    },
    /// Money received that cannot yet be attributed to a case.
    Suspense,
    /// Refunds approved but not yet sent.
    RefundsPayable,
    /// Fees the banks keep on settlement.
    BankFees,
    /// Differences found when a cash drawer is closed.
    CashOverShort,
    /// Cash taken from a closed drawer to the bank and not yet seen on the bank's statement:
    /// a deposit moves it here out of the drawer, the reconciliation moves it to the bank.
    CashInTransit,
    /// Income outside the fee sectors: money written off to income after a reconciliation
    /// exception was approved for it (and losses written off against it).
    OtherIncome,
}

/// The side on which an account's balance normally grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NormalBalance {
    /// Assets and expenses grow with debits.
    Debit,
    /// Revenue and liabilities grow with credits.
    Credit,
}

impl NormalBalance {
    /// Returns `"debit"` or `"credit"`, as stored in `ledger_accounts.normal_balance`.
    pub fn as_str(self) -> &'static str {
        match self {
            NormalBalance::Debit => "debit",
            NormalBalance::Credit => "credit",
        }
    }
}

impl AccountKind {
    /// Returns the side on which this kind of account normally carries its balance.
    pub fn normal_balance(&self) -> NormalBalance {
        match self {
            AccountKind::Clearing { .. }
            | AccountKind::CashDrawer
            | AccountKind::Bank { .. }
            | AccountKind::BankFees
            | AccountKind::CashOverShort
            | AccountKind::CashInTransit => NormalBalance::Debit,
            AccountKind::Revenue { .. }
            | AccountKind::Suspense
            | AccountKind::RefundsPayable
            | AccountKind::OtherIncome => NormalBalance::Credit,
        }
    }

    /// Returns the kind's name as stored in `ledger_accounts.kind`, e.g. `"cash_drawer"`.
    pub fn name(&self) -> &'static str {
        match self {
            AccountKind::Clearing { .. } => "clearing",
            AccountKind::CashDrawer => "cash_drawer",
            AccountKind::Bank { .. } => "bank",
            AccountKind::Revenue { .. } => "revenue",
            AccountKind::Suspense => "suspense",
            AccountKind::RefundsPayable => "refunds_payable",
            AccountKind::BankFees => "bank_fees",
            AccountKind::CashOverShort => "cash_over_short",
            AccountKind::CashInTransit => "cash_in_transit",
            AccountKind::OtherIncome => "other_income",
        }
    }

    /// The middle of the account code, between the office and the currency.
    fn code_segments(&self) -> String {
        match self {
            AccountKind::Clearing { channel } => format!("clearing:{channel}"),
            AccountKind::CashDrawer => "cash:drawer".to_owned(),
            AccountKind::Bank { account } => format!("bank:{account}"),
            AccountKind::Revenue { sector } => format!("revenue:{sector}"),
            AccountKind::Suspense => "suspense".to_owned(),
            AccountKind::RefundsPayable => "refunds-payable".to_owned(),
            AccountKind::BankFees => "bank-fees".to_owned(),
            AccountKind::CashOverShort => "cash-over-short".to_owned(),
            AccountKind::CashInTransit => "cash-in-transit".to_owned(),
            AccountKind::OtherIncome => "other-income".to_owned(),
        }
    }

    fn validate(&self) -> Result<(), LedgerError> {
        match self {
            AccountKind::Clearing { channel } => check_segment("channel", channel),
            AccountKind::Bank { account } => check_segment("bank account", account),
            AccountKind::Revenue { sector } => check_segment("sector", sector),
            AccountKind::CashDrawer
            | AccountKind::Suspense
            | AccountKind::RefundsPayable
            | AccountKind::BankFees
            | AccountKind::CashOverShort
            | AccountKind::CashInTransit
            | AccountKind::OtherIncome => Ok(()),
        }
    }
}

/// The code of one account of one office in one currency, e.g. `0320:revenue:construction:KHR`.
///
/// The code is the account's public name (auditors read it, exports carry it), so it is built
/// only from validated parts and [`AccountCode::parse`] is its exact inverse; the crate docs
/// list the formats. Equality, ordering and hashing follow the code string.
#[derive(Debug, Clone)]
pub struct AccountCode {
    code: String,
    office_code: String,
    kind: AccountKind,
    currency: Currency,
}

impl AccountCode {
    /// Builds the code of `kind` for `office_code` in `currency`.
    ///
    /// # Errors
    ///
    /// [`LedgerError::InvalidAccountCode`] when the office code is not 1 to 8 ASCII letters or
    /// digits, or a channel, sector or bank-account segment is not 1 to 40 characters of
    /// `a-z`, `0-9`, `_` and `-` (the `:` separator can then never appear inside a part).
    pub fn new(
        office_code: &str,
        kind: AccountKind,
        currency: Currency,
    ) -> Result<AccountCode, LedgerError> {
        check_office_code(office_code)?;
        kind.validate()?;
        let code = format!("{office_code}:{}:{currency}", kind.code_segments());
        Ok(AccountCode {
            code,
            office_code: office_code.to_owned(),
            kind,
            currency,
        })
    }

    /// Reads a code produced by [`AccountCode::as_str`].
    ///
    /// # Errors
    ///
    /// [`LedgerError::InvalidAccountCode`] when the code does not follow one of the documented
    /// formats exactly (no surrounding spaces, lower-case kinds, upper-case currency).
    pub fn parse(code: &str) -> Result<AccountCode, LedgerError> {
        let malformed =
            |why: &str| LedgerError::InvalidAccountCode(format!("{:?}: {why}", clip(code)));
        let parts: Vec<&str> = code.split(':').collect();
        let (office_code, kind, currency) = match parts.as_slice() {
            [office, "clearing", channel, currency] => (
                office,
                AccountKind::Clearing {
                    channel: (*channel).to_owned(),
                },
                currency,
            ),
            [office, "cash", "drawer", currency] => (office, AccountKind::CashDrawer, currency),
            [office, "bank", account, currency] => (
                office,
                AccountKind::Bank {
                    account: (*account).to_owned(),
                },
                currency,
            ),
            [office, "revenue", sector, currency] => (
                office,
                AccountKind::Revenue {
                    sector: (*sector).to_owned(),
                },
                currency,
            ),
            [office, "suspense", currency] => (office, AccountKind::Suspense, currency),
            [office, "refunds-payable", currency] => {
                (office, AccountKind::RefundsPayable, currency)
            }
            [office, "bank-fees", currency] => (office, AccountKind::BankFees, currency),
            [office, "cash-over-short", currency] => (office, AccountKind::CashOverShort, currency),
            [office, "cash-in-transit", currency] => (office, AccountKind::CashInTransit, currency),
            [office, "other-income", currency] => (office, AccountKind::OtherIncome, currency),
            _ => return Err(malformed("not a known account code format")),
        };
        let currency =
            Currency::from_str(currency).map_err(|_| malformed("currency must be KHR or USD"))?;
        let account = AccountCode::new(office_code, kind, currency)?;
        // The formats have no optional parts, so rebuilding must give the input back; this
        // keeps parse and as_str exact inverses even if a format is added carelessly later.
        if account.code == code {
            Ok(account)
        } else {
            Err(malformed("not in canonical form"))
        }
    }

    /// Returns the code, e.g. `0320:revenue:construction:KHR`.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Returns the office the account belongs to.
    pub fn office_code(&self) -> &str {
        &self.office_code
    }

    /// Returns what the account records.
    pub fn kind(&self) -> &AccountKind {
        &self.kind
    }

    /// Returns the only currency the account holds.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Returns the side on which the account's balance normally grows.
    pub fn normal_balance(&self) -> NormalBalance {
        self.kind.normal_balance()
    }
}

impl PartialEq for AccountCode {
    fn eq(&self, other: &AccountCode) -> bool {
        self.code == other.code
    }
}

impl Eq for AccountCode {}

impl Hash for AccountCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
    }
}

impl PartialOrd for AccountCode {
    fn partial_cmp(&self, other: &AccountCode) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AccountCode {
    fn cmp(&self, other: &AccountCode) -> Ordering {
        self.code.cmp(&other.code)
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl FromStr for AccountCode {
    type Err = LedgerError;

    fn from_str(code: &str) -> Result<AccountCode, LedgerError> {
        AccountCode::parse(code)
    }
}

impl Serialize for AccountCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.code)
    }
}

impl<'de> Deserialize<'de> for AccountCode {
    /// Reads the code string through [`AccountCode::parse`], so a malformed code never
    /// becomes a value.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AccountCode, D::Error> {
        let code = String::deserialize(deserializer)?;
        AccountCode::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Checks an office code: 1 to 8 ASCII letters or digits, as in the `offices` table.
pub(crate) fn check_office_code(office_code: &str) -> Result<(), LedgerError> {
    let valid = (1..=MAX_OFFICE_CODE_CHARS).contains(&office_code.len())
        && office_code.bytes().all(|byte| byte.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(LedgerError::InvalidAccountCode(format!(
            "office code {:?} must be 1 to {MAX_OFFICE_CODE_CHARS} ASCII letters or digits",
            clip(office_code)
        )))
    }
}

fn check_segment(what: &str, segment: &str) -> Result<(), LedgerError> {
    let valid = (1..=MAX_SEGMENT_CHARS).contains(&segment.len())
        && segment.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
        });
    if valid {
        Ok(())
    } else {
        Err(LedgerError::InvalidAccountCode(format!(
            "{what} {:?} must be 1 to {MAX_SEGMENT_CHARS} characters of a-z, 0-9, '_' or '-'",
            clip(segment)
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    fn code(office: &str, kind: AccountKind, currency: Currency) -> AccountCode {
        AccountCode::new(office, kind, currency).unwrap()
    }

    #[test]
    fn codes_follow_the_documented_formats() {
        let cases = [
            (
                AccountKind::Clearing {
                    channel: "khqr".into(),
                },
                "0320:clearing:khqr:KHR",
            ),
            (AccountKind::CashDrawer, "0320:cash:drawer:KHR"),
            (
                AccountKind::Bank {
                    account: "acleda-001".into(),
                },
                "0320:bank:acleda-001:KHR",
            ),
            (
                AccountKind::Revenue {
                    sector: "construction".into(),
                },
                "0320:revenue:construction:KHR",
            ),
            (AccountKind::Suspense, "0320:suspense:KHR"),
            (AccountKind::RefundsPayable, "0320:refunds-payable:KHR"),
            (AccountKind::BankFees, "0320:bank-fees:KHR"),
            (AccountKind::CashOverShort, "0320:cash-over-short:KHR"),
            (AccountKind::CashInTransit, "0320:cash-in-transit:KHR"),
            (AccountKind::OtherIncome, "0320:other-income:KHR"),
        ];
        for (kind, expected) in cases {
            let account = code("0320", kind.clone(), Currency::Khr);
            assert_eq!(account.as_str(), expected);
            assert_eq!(account.to_string(), expected);
            assert_eq!(account.office_code(), "0320");
            assert_eq!(account.kind(), &kind);
            assert_eq!(account.currency(), Currency::Khr);
            let parsed = AccountCode::parse(expected).unwrap();
            assert_eq!(parsed.kind(), &kind);
            assert_eq!(parsed, account);
        }
        let usd = code("PP01", AccountKind::Suspense, Currency::Usd);
        assert_eq!(usd.as_str(), "PP01:suspense:USD");
        assert_eq!(
            serde_json::to_string(&usd).unwrap(),
            "\"PP01:suspense:USD\""
        );
        assert_eq!(
            serde_json::from_str::<AccountCode>("\"PP01:suspense:USD\"").unwrap(),
            usd
        );
        assert!(serde_json::from_str::<AccountCode>("\"PP01:suspense:usd\"").is_err());
    }

    #[test]
    fn normal_balances_follow_account_nature() {
        use AccountKind::*;
        let debit = [
            Clearing {
                channel: "khqr".into(),
            },
            CashDrawer,
            Bank {
                account: "a".into(),
            },
            BankFees,
            CashOverShort,
            CashInTransit,
        ];
        let credit = [
            Revenue {
                sector: "land".into(),
            },
            Suspense,
            RefundsPayable,
            OtherIncome,
        ];
        assert!(debit
            .iter()
            .all(|kind| kind.normal_balance() == NormalBalance::Debit));
        assert!(credit
            .iter()
            .all(|kind| kind.normal_balance() == NormalBalance::Credit));
        assert_eq!(NormalBalance::Credit.as_str(), "credit");
    }

    #[test]
    fn new_refuses_malformed_parts() {
        let revenue = |sector: &str| AccountKind::Revenue {
            sector: sector.into(),
        };
        let refused = [
            ("", AccountKind::Suspense),
            ("123456789", AccountKind::Suspense),
            ("03 20", AccountKind::Suspense),
            ("03:20", AccountKind::Suspense),
            ("០៣២០", AccountKind::Suspense),
            ("0320", revenue("")),
            ("0320", revenue("Construction")),
            ("0320", revenue("land:KHR")),
            ("0320", revenue("land use")),
            ("0320", revenue(&"a".repeat(41))),
            (
                "0320",
                AccountKind::Clearing {
                    channel: "khqr.bakong".into(),
                },
            ),
            ("0320", AccountKind::Bank { account: "".into() }),
        ];
        for (office, kind) in refused {
            let result = AccountCode::new(office, kind.clone(), Currency::Khr);
            assert!(
                matches!(result, Err(LedgerError::InvalidAccountCode(_))),
                "{office:?} {kind:?} gave {result:?}"
            );
        }
        assert!(AccountCode::new("0320", revenue(&"a".repeat(40)), Currency::Khr).is_ok());
        assert!(AccountCode::new("abcDEF12", AccountKind::Suspense, Currency::Khr).is_ok());
    }

    #[test]
    fn parse_refuses_anything_but_the_formats() {
        let refused = [
            "",
            "0320",
            "0320:suspense",
            "0320:suspense:khr",
            "0320:suspense:EUR",
            "0320:suspense:KHR:",
            ":suspense:KHR",
            " 0320:suspense:KHR",
            "0320:suspense:KHR ",
            "0320:cash:KHR",
            "0320:cash:till:KHR",
            "0320:revenue:KHR",
            "0320:revenue::KHR",
            "0320:revenue:a:b:KHR",
            "0320:Revenue:land:KHR",
            "0320:refunds_payable:KHR",
            "0320:clearing:KHQR:KHR",
        ];
        for input in refused {
            let result = AccountCode::parse(input);
            assert!(
                matches!(result, Err(LedgerError::InvalidAccountCode(_))),
                "{input:?} gave {result:?}"
            );
        }
    }

    fn kinds() -> impl Strategy<Value = AccountKind> {
        let segment = "[a-z0-9_-]{1,40}";
        prop_oneof![
            segment.prop_map(|channel| AccountKind::Clearing { channel }),
            Just(AccountKind::CashDrawer),
            segment.prop_map(|account| AccountKind::Bank { account }),
            segment.prop_map(|sector| AccountKind::Revenue { sector }),
            Just(AccountKind::Suspense),
            Just(AccountKind::RefundsPayable),
            Just(AccountKind::BankFees),
            Just(AccountKind::CashOverShort),
            Just(AccountKind::CashInTransit),
            Just(AccountKind::OtherIncome),
        ]
    }

    proptest! {
        #[test]
        fn parse_inverts_as_str(
            office in "[0-9A-Za-z]{1,8}",
            kind in kinds(),
            currency in prop::sample::select(Currency::ALL.to_vec()),
        ) {
            let account = AccountCode::new(&office, kind.clone(), currency).unwrap();
            let parsed = AccountCode::parse(account.as_str()).unwrap();
            prop_assert_eq!(parsed.as_str(), account.as_str());
            prop_assert_eq!(parsed.office_code(), office.as_str());
            prop_assert_eq!(parsed.kind(), &kind);
            prop_assert_eq!(parsed.currency(), currency);
            prop_assert_eq!(parsed.normal_balance(), kind.normal_balance());
        }
    }
}

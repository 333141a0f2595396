/** What every secret shows instead of itself, in logs, errors and printed values. */
export const MASK = '***'

// user:password@ inside any URL, whatever its scheme: a mistyped scheme still carries a real password.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi
// password=... in key/value connection strings.
const KEYWORD_PASSWORD = /(\bpassword\s*=\s*)('[^']*'|\S+)/gi

/**
 * Masks passwords in connection strings (URL and key/value forms) found anywhere in a text.
 *
 * ```ts
 * redactSecrets('postgres://app:s3cret@db/app') // 'postgres://app:***@db/app'
 * ```
 */
export function redactSecrets(text: string): string {
  return text.replace(URL_PASSWORD, `$1${MASK}@`).replace(KEYWORD_PASSWORD, `$1${MASK}`)
}

// Words that name a secret, matched as whole words of a name (`passed` and `passengers` are not).
const SECRET_WORD = /^(pass|pwd|passphrase|credentials?|.*(password|passwd|secret|token|apikey))$/

/**
 * Whether a field holding this name carries a secret whose value must never be shown. Names are
 * split into words (camelCase, snake_case, kebab-case, dotted), so `PGPASSWORD`, `dbPassword`,
 * `api_key` and `accessToken` are secrets, while `passed` or `passengers` are not.
 *
 * ```ts
 * isSecretName('DB_PASSWORD') // true
 * isSecretName('testsPassed') // false
 * ```
 */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
  return words.some((word, i) => SECRET_WORD.test(word) || (word === 'api' && words[i + 1] === 'key'))
}

/** The value to show for a variable in logs and errors: secrets fully masked, URLs without passwords. */
export function redactValue(name: string, value: string): string {
  return isSecretName(name) ? MASK : redactSecrets(value)
}

const MASK = '***'

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

/** Whether a field holding this name carries a secret whose value must never be shown. */
export function isSecretName(name: string): boolean {
  return /pass(word)?|secret|token|api[_-]?key/i.test(name)
}

/** The value to show for a variable in logs and errors: secrets fully masked, URLs without passwords. */
export function redactValue(name: string, value: string): string {
  return isSecretName(name) ? MASK : redactSecrets(value)
}

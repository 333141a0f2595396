// How a password file's content reads as the password: one rule for the check at start and every login.

/** A password file's content as the password: trailing newlines (`echo` and editors add one) dropped. */
export function passwordOfFile(text: string): string {
  return text.replace(/[\r\n]+$/, '')
}

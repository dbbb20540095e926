// Userinfo out of free text. Messages quote what a user wrote (a requirement, a TOML value) and
// such text may hold a URL with `user:password@` or `<token>@`: the quote keeps everything else.

// Up to the LAST `@` before the host: a password may hold an unencoded `@` itself.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#'"]*@/gi

/** `text` with the userinfo of every `scheme://…@` in it removed. */
export function redactUserinfo(text: string): string {
  return text.includes('@') ? text.replace(USERINFO, '$1') : text
}

#!/usr/bin/env node
import module$1 from 'node:module';
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, posix, relative, resolve, isAbsolute, basename } from 'node:path';
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { createHash } from 'node:crypto';

// Errors that reach a user. Each one says which file (and where in it), what is wrong,
// and what to do about it; the CLI and the action print `message` and never a stack.
class FastBuildError extends Error {
    location;
    /** What to do about it, one sentence. */
    hint;
    constructor(message, location = {}, hint) {
        super(message);
        this.name = new.target.name;
        this.location = location;
        this.hint = hint;
    }
    /** `file:line:column: key: message` followed by the hint, as compilers print it. */
    describe() {
        const { file, line, column, keyPath } = this.location;
        let where = '';
        if (file) {
            where = file;
            if (line !== undefined)
                where += `:${line}`;
            if (line !== undefined && column !== undefined)
                where += `:${column}`;
            where += ': ';
        }
        const key = keyPath ? `${keyPath}: ` : '';
        return `${where}${key}${this.message}${this.hint ? `\n  fix: ${this.hint}` : ''}`;
    }
}
/** pyproject.toml or [tool.fast-build] is wrong, or an input/flag is. */
class ConfigError extends FastBuildError {
}
/** A lock file cannot be read, is of an unknown version, or does not agree with pyproject.toml. */
class LockError extends FastBuildError {
}
/** A PEP 508 marker or requirement does not parse. `column` points at the offending character. */
class MarkerSyntaxError extends FastBuildError {
}
/**
 * A marker that parses but cannot be evaluated: packaging raises here too (UndefinedComparison,
 * a comparison between two strings, a set-valued variable on the left of an operator, a version
 * PEP 440 cannot compare). Here, beside MarkerSyntaxError, because pep440.ts raises it as well,
 * and pep440.ts is below markers/.
 */
class MarkerEvaluationError extends FastBuildError {
}
/** The selection cannot be satisfied from the lock (conflicting packages, missing packages, cycles). */
class PlanError extends FastBuildError {
}
function isFastBuildError(e) {
    return e instanceof FastBuildError;
}
/** Message for anything thrown: our errors describe themselves; others get their message only. */
function describeError(e) {
    if (isFastBuildError(e))
        return e.describe();
    if (e instanceof Error)
        return e.message;
    return String(e);
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
function getLineColFromPtr(string, ptr) {
    let lines = string.slice(0, ptr).split(/\r?\n/);
    return [lines.length, lines.pop().length + 1];
}
function makeCodeBlock(string, line, column) {
    let lines = string.split(/\r?\n/);
    let codeblock = '';
    let numberLen = (Math.log10(line + 1) | 0) + 1;
    for (let i = line - 1; i <= line + 1; i++) {
        let l = lines[i - 1];
        if (!l)
            continue;
        codeblock += i.toString().padEnd(numberLen, ' ');
        codeblock += ':  ';
        codeblock += l;
        codeblock += '\n';
        if (i === line) {
            codeblock += ' '.repeat(numberLen + column + 2);
            codeblock += '^\n';
        }
    }
    return codeblock;
}
class TomlError extends Error {
    line;
    column;
    codeblock;
    constructor(message, options) {
        const [line, column] = getLineColFromPtr(options.toml, options.ptr);
        const codeblock = makeCodeBlock(options.toml, line, column);
        super(`Invalid TOML document: ${message}\n\n${codeblock}`, options);
        this.line = line;
        this.column = column;
        this.codeblock = codeblock;
    }
    /** @internal */
    static x(message, ctx, ptr) {
        throw new TomlError(message, { toml: ctx.s, ptr: ptr ?? ctx.p });
    }
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
/** @internal */
function parseString(ctx) {
    let startPtr = ctx.p;
    let c = ctx.s.charCodeAt(ctx.p++);
    let first = c;
    let isLiteral = c === 0x27; /* ' */
    let isMultiline = c === ctx.s.charCodeAt(ctx.p) && c === ctx.s.charCodeAt(ctx.p + 1);
    if (isMultiline) {
        // Trim initial newline
        if ((c = ctx.s.charCodeAt(ctx.p += 2)) === 0xa /* \n */)
            ctx.p++;
        else if (c === 0xd /* \r */ && ctx.s.charCodeAt(ctx.p + 1) === 0xa /* \n */)
            ctx.p += 2;
    }
    // For the record: it is not worth it to use a fast-path for literal strings using `indexOf`.
    // Doing a char-by-char iteration ends up dispatching less instructions, for the same wall-clock runtime.
    let parsed = '';
    let sliceStart = ctx.p;
    // states:
    //   0 - decoding
    //   1 - decoding escape
    //   2 - whitespace escape (no newline encountered yet, must fail on non-whitespace)
    //   3 - whitespace escape (newline encountered, allowed to transition back to normal decode)
    let state = 0;
    for (; ctx.p < ctx.s.length; ctx.p++) {
        c = ctx.s.charCodeAt(ctx.p);
        // Deal with newlines first, since that simplifies control character checking and handling across all states
        if (isMultiline && (c === 0xa /* \n */ || (c === 0xd /* \r */ && ctx.s.charCodeAt(ctx.p + 1) === 0xa /* \n */))) {
            state = state && 3;
        }
        // Control characters are banned in TOML, so we throw an error if we encounter them
        else if ((c < 0x20 && c !== 0x9 /* \t */) || c === 0x7f) {
            TomlError.x('control characters are not allowed in strings', ctx);
        }
        // The string might terminate while we're parsing through a newline escape.
        // It must have encountered a newline; otherwise, it'll simply fail in another branch.
        else if ((!state || state === 3) && c === first && (!isMultiline || (ctx.s.charCodeAt(ctx.p + 1) === first && ctx.s.charCodeAt(ctx.p + 2) === first))) {
            if (isMultiline) {
                // If the string ends with 4-5 quotes, then the first 1-2 are part of the string
                if (ctx.s.charCodeAt(ctx.p + 3) === first)
                    ctx.p++;
                if (ctx.s.charCodeAt(ctx.p + 3) === first)
                    ctx.p++;
            }
            // If we're in a newline escape still, then there's nothing to add.
            if (!state) {
                // Avoid a useless concat operation if the string can be used as-is.
                let s = ctx.s.slice(sliceStart, ctx.p);
                parsed = parsed ? parsed + s : s;
            }
            ctx.p += isMultiline ? 3 : 1;
            return parsed;
        }
        // Baseline state; keep moving forward unless an escape sequence starts
        else if (!state) {
            if (!isLiteral && c === 0x5c /* \ */) {
                parsed += ctx.s.slice(sliceStart, (sliceStart = ctx.p));
                state = 1;
            }
        }
        else if (state === 1) {
            if (c === 0x78 /* x */ || c === 0x75 /* u */ || c === 0x55 /* U */) { // Unicode escape
                let errPtr = ctx.p++ - 1;
                let value = 0;
                let len = c === 0x78 /* x */ ? 2 : c === 0x75 /* u */ ? 4 : 8;
                for (let j = 0; j < len; j++, ctx.p++) {
                    let hex = ctx.s.charCodeAt(ctx.p);
                    let digit = 
                    /* 0-9 */ hex >= 0x30 && hex <= 0x39 ? hex - 0x30 :
                        /* A-F */ hex >= 0x41 && hex <= 0x46 ? hex - 0x41 + 10 :
                            /* a-f */ hex >= 0x61 && hex <= 0x66 ? hex - 0x61 + 10 : -1;
                    if (digit < 0)
                        TomlError.x('invalid non-hex character in unicode escape', ctx);
                    value = (value << 4) | digit;
                }
                // Because JS does bitwise on signed 32bit integers, all 0xfzzzzzzz values are actually seen as negative
                if (value < 0 || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
                    TomlError.x('invalid unicode escape', ctx, errPtr);
                }
                parsed += String.fromCodePoint(value);
                sliceStart = ctx.p--;
                state = 0;
            }
            // Newline escape sequence. We only need to care about spaces and tabs; newlines are dealt with earlier
            else if (isMultiline && (c === 0x20 || c === 0x9 /* \t */)) {
                state = 2;
            }
            // Basic escape sequence
            else {
                if (c === 0x62 /* b */)
                    parsed += '\b';
                else if (c === 0x74 /* t */)
                    parsed += '\t';
                else if (c === 0x6e /* n */)
                    parsed += '\n';
                else if (c === 0x66 /* f */)
                    parsed += '\f';
                else if (c === 0x72 /* r */)
                    parsed += '\r';
                else if (c === 0x65 /* e */)
                    parsed += '\x1b';
                else if (c === 0x22 /* " */)
                    parsed += '"';
                else if (c === 0x5c /* \ */)
                    parsed += '\\';
                else
                    TomlError.x('unrecognised escape sequence', ctx);
                sliceStart = ctx.p + 1;
                state = 0;
            }
        }
        // Newline escape continuation: keep moving forward until the first non-whitespace char
        else if (c !== 0x20 && c !== 0x9 /* \t */) {
            if (state === 2)
                TomlError.x('invalid escape: only line-ending whitespace may be escaped', ctx, sliceStart);
            // State cannot be zero, or we'd have branched earlier already.
            // If it's a backslash, immediately transition to the escape state so it can be processed.
            state = !isLiteral && c === 0x5c /* \ */ ? 1 : 0;
            sliceStart = ctx.p;
        }
    }
    TomlError.x('unfinished string', ctx, startPtr);
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
let DATE_TIME_RE = /^(\d{4}-\d{2}-\d{2})?[Tt ]?(?:(\d{2}):\d{2}(?::\d{2}(?:\.\d+)?)?)?(Z|z|[-+]\d{2}:\d{2})?$/i;
class TomlDate extends Date {
    #hasDate = false;
    #hasTime = false;
    #offset = null;
    constructor(date, fasttype, unsafeDelim) {
        let hasDate = true;
        let hasTime = true;
        let offset = 'Z';
        let c;
        if (typeof date === 'string') {
            if (fasttype)
                prep: {
                    // Date-time
                    if (fasttype < 3) {
                        if (+date.slice(11, 13) > 23) {
                            date = '';
                            break prep;
                        }
                        // Local
                        if (fasttype === 2) {
                            offset = null;
                            date += 'Z';
                        }
                        // Offset; keep track of offset if not Z
                        else if ((c = date.charCodeAt(date.length - 1)) !== 0x5a /* Z */ && c !== 0x7a /* z */) {
                            offset = date.slice(date.length - 6);
                        }
                        if (unsafeDelim)
                            date = date.slice(0, 10) + 'T' + date.slice(11);
                    }
                    // Time
                    else if (fasttype === 4) {
                        date = +date.slice(0, 2) > 23 ? '' : `0000-01-01T${date}Z`;
                    }
                    hasDate = fasttype !== 4;
                    hasTime = fasttype !== 3;
                }
            else {
                let match = date.match(DATE_TIME_RE);
                if (match) {
                    if (!match[1]) {
                        hasDate = false;
                        date = `0000-01-01T${date}`;
                    }
                    hasTime = !!match[2];
                    // Make sure to use T instead of a space. Breaks in case of extreme values otherwise.
                    hasTime && date[10] === ' ' && (date = date.replace(' ', 'T'));
                    // Do not allow rollover hours.
                    if (match[2] && +match[2] > 23) {
                        date = '';
                    }
                    else {
                        offset = match[3] || null;
                        if (!offset && hasTime)
                            date += 'Z';
                    }
                }
                else {
                    date = '';
                }
            }
        }
        super(date);
        if (!isNaN(this.getTime())) {
            this.#hasDate = hasDate;
            this.#hasTime = hasTime;
            this.#offset = offset;
        }
    }
    isDateTime() {
        return this.#hasDate && this.#hasTime;
    }
    isLocal() {
        return !this.#hasDate || !this.#hasTime || !this.#offset;
    }
    isDate() {
        return this.#hasDate && !this.#hasTime;
    }
    isTime() {
        return this.#hasTime && !this.#hasDate;
    }
    isValid() {
        return this.#hasDate || this.#hasTime;
    }
    toISOString() {
        let iso = super.toISOString();
        // Local Date
        if (this.isDate())
            return iso.slice(0, 10);
        // Local Time
        if (this.isTime())
            return iso.slice(11, 23);
        // Local DateTime
        if (this.#offset === null)
            return iso.slice(0, -1);
        // Offset DateTime
        if (this.#offset === 'Z' || this.#offset === 'z')
            return iso;
        // This part is quite annoying: JS strips the original timezone from the ISO string representation
        // Instead of using a "modified" date and "Z", we restore the representation "as authored"
        let offset = (+(this.#offset.slice(1, 3)) * 60) + +(this.#offset.slice(4, 6));
        offset = this.#offset[0] === '-' ? offset : -offset;
        let offsetDate = new Date(this.getTime() - (offset * 60e3));
        return offsetDate.toISOString().slice(0, -1) + this.#offset;
    }
    static wrapAsOffsetDateTime(jsDate, offset = 'Z') {
        let date = new TomlDate(jsDate);
        date.#offset = offset;
        return date;
    }
    static wrapAsLocalDateTime(jsDate) {
        let date = new TomlDate(jsDate);
        date.#offset = null;
        return date;
    }
    static wrapAsLocalDate(jsDate) {
        let date = new TomlDate(jsDate);
        date.#hasTime = false;
        date.#offset = null;
        return date;
    }
    static wrapAsLocalTime(jsDate) {
        let date = new TomlDate(jsDate);
        date.#hasDate = false;
        date.#offset = null;
        return date;
    }
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
function isDigit(char, base = 10) {
    return base === 16
        ? (char > 0x2f && char < 0x3a) || (char > 0x40 && char < 0x47) || (char > 0x60 && char < 0x67)
        : (char > 0x2f && char < 0x30 + base);
}
function isEndOfValue(char, delim) {
    // Whitespace -- we're permissive on `\r` for performance; it'll be dealt with later anyway
    return char === 0x20 || char === 0x9 /* \t */ || char === 0xa /* \n */ || char === 0xd /* \r */ ||
        // Structure end or next value delimiter
        (delim && (char === delim || char === 0x2c /* , */)) ||
        // Comment
        char === 0x23; /* # */
}
/** @internal */
function extractValue(ctx, end) {
    let errPtr = ctx.p;
    let c = ctx.s.charCodeAt(ctx.p);
    // Structs
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
        ctx.d-- || TomlError.x('document contains excessively nested structures. aborting.', ctx);
        let value = c === 0x5b /* [ */
            ? parseArray(ctx)
            : parseInlineTable(ctx);
        ctx.d++;
        return value;
    }
    // Strings
    if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
        return parseString(ctx);
    }
    // Booleans
    // We can fast-path because the first character is enough to know the only possible value
    if (c === 0x74 /* t */) { // Only possible valid value is `true`
        if (ctx.s.charCodeAt(++ctx.p) !== 0x72 || ctx.s.charCodeAt(++ctx.p) !== 0x75 || ctx.s.charCodeAt(++ctx.p) !== 0x65)
            TomlError.x('invalid value', ctx, errPtr);
        return ctx.p++, true;
    }
    if (c === 0x66 /* f */) { // Only possible valid value is `false`
        if (ctx.s.charCodeAt(++ctx.p) !== 0x61 || ctx.s.charCodeAt(++ctx.p) !== 0x6c || ctx.s.charCodeAt(++ctx.p) !== 0x73 || ctx.s.charCodeAt(++ctx.p) !== 0x65)
            TomlError.x('invalid value', ctx, errPtr);
        return ctx.p++, false;
    }
    if (c === 0x2b /* + */ || c === 0x2d /* - */) {
        return parseNumber(ctx, ctx.p, ctx.s.charCodeAt(++ctx.p), 0x2c - c, end);
    }
    // Rough heuristic, but `parseDate` falls back to number parsing if it's a false positive.
    // e.g.: `a = 1\n-------------- = 1` would match this heuristic, but gracefully fallback to numbers.
    if (ctx.s.charCodeAt(ctx.p + 4) === 0x2d /* - */ && ctx.s.charCodeAt(ctx.p + 7) === 0x2d /* - */) {
        return parseDate(ctx, c, end);
    }
    // Same logic as above; `parseTime` falls back to number parsing if it's a false positive.
    if (ctx.s.charCodeAt(ctx.p + 2) === 0x3a /* : */) {
        return parseTime(ctx, c, end);
    }
    return parseNumber(ctx, ctx.p, c, 0, end);
}
// State:
// 0: init
// 1: integer
// 2: fractional dot
// 3: fractional
// 4: exponent letter
// 5: exponent
// 6: exponent sign
// 7: exponent with sign
// >9: underscore; see below
//     -> 12: was integer
//     -> 14: was fractional
//     -> 16: was exponent
// states 2-5, 14, 16 are ONLY permitted iif base === 10
function parseNumber(ctx, startPtr, startChr, sign, endChr) {
    let c = startChr;
    let state = 0;
    let hasUnderscores = false;
    // (+/-)inf
    if (c === 0x69 /* i */) {
        if (ctx.s.charCodeAt(++ctx.p) !== 0x6e || ctx.s.charCodeAt(++ctx.p) !== 0x66)
            TomlError.x('invalid value', ctx, startPtr);
        return ctx.p++, (sign || 1) / 0;
    }
    // (+/-)nan
    if (c === 0x6e /* n */) {
        if (ctx.s.charCodeAt(++ctx.p) !== 0x61 || ctx.s.charCodeAt(++ctx.p) !== 0x6e)
            TomlError.x('invalid value', ctx, startPtr);
        return ctx.p++, NaN;
    }
    // Leading zero
    // Only allowed cases: `0<EOV>`, `0.(...)`, `0e(...)`, `0x(...)`, `0b(...)`, `0o(...)`
    // FWIW, `0e(...)` is a stupid case, but it's not banned per-se so we have to parse it
    if (c === 0x30 /* 0 */) {
        if (++ctx.p >= ctx.s.length || isEndOfValue(c = ctx.s.charCodeAt(ctx.p), endChr))
            return ctx.bi === true ? 0n : 0; // note: conveniently deals with `-0`
        if (!sign) {
            if (c === 0x78 /* x */)
                return parseIntegerBaseN(ctx, startPtr, 16, endChr);
            else if (c === 0x62 /* b */)
                return parseIntegerBaseN(ctx, startPtr, 2, endChr);
            else if (c === 0x6f /* o */)
                return parseIntegerBaseN(ctx, startPtr, 8, endChr);
        }
        if (c === 0x2e /* . */)
            state = 2;
        else if (c === 0x65 /* e */ || c === 0x45 /* E */)
            state = 4;
        else
            TomlError.x('illegal leading zero', ctx, startPtr);
    }
    // If the 1st char is not a digit by now, then it's not a valid TOML value at all
    else if (!isDigit(c))
        TomlError.x('invalid value', ctx, startPtr);
    while (++ctx.p < ctx.s.length && (c = ctx.s.charCodeAt(ctx.p), !isEndOfValue(c, endChr))) {
        if (!state)
            state = 1; // Detects single-digit numbers we can use a fast parse path for
        // The way the states are numbered is not random: underscores are always permitted in odd-numbered states and
        // never permitted in even-numbered ones.
        if (c === 0x5f /* _ */) {
            if (!(state & 1))
                TomlError.x('illegal underscore', ctx);
            state += 11; // 11 is a marker that makes the state even and greater than 9; see the numbering + rationale above
            hasUnderscores = true;
        }
        // Transition to fractional part.
        else if (state === 1 && c === 0x2e /* . */)
            state = 2;
        // Transition to exponent part.
        else if ((state === 1 || state === 3) && (c === 0x65 /* e */ || c === 0x45 /* E */))
            state = 4;
        // + and - are permitted in state 4 only (handled before entering the function for state 0)
        else if (state === 4 && (c === 0x2b /* + */ || c === 0x2d /* - */)) {
            state = 6;
        }
        // All special cases have been handled; only digits are allowed here
        else if (!isDigit(c))
            TomlError.x(`illegal character in numeric literal`, ctx);
        // Clear state flags
        else if (state > 9)
            state -= 11;
        else if (!(state & 1))
            state++;
    }
    // Single-char number; we can fast-path these very easily.
    if (!state) {
        let val = (startChr - 0x30 /* 0 */) * (sign || 1);
        return ctx.bi === true ? BigInt(val) : val;
    }
    // Even-numbered states absolutely require a digit next; not even end of value is permitted
    if (!(state & 1))
        TomlError.x('unfinished numeric value', ctx, startPtr);
    let str = ctx.s.slice(startPtr, ctx.p);
    if (hasUnderscores)
        str = str.replaceAll('_', ''); // perf: replaceAll 1.25x faster than replace with a regex
    return state > 1
        ? parseFloat(str)
        : parseInteger(ctx, str, 10, startPtr);
}
function parseIntegerBaseN(ctx, startPtr, base, endChr) {
    let c, underscore = 1;
    while (++ctx.p < ctx.s.length && (c = ctx.s.charCodeAt(ctx.p), !isEndOfValue(c, endChr))) {
        if (c === 0x5f /* _ */) {
            if (underscore & 1)
                TomlError.x('illegal underscore', ctx);
            underscore = 3;
        }
        // We only need to check if the number is a valid digit, nothing else is permitted
        else if (!isDigit(c, base))
            TomlError.x(`illegal character in numeric literal`, ctx);
        // Clear underscore flag
        else if (underscore & 1)
            underscore--;
    }
    // Trailing underscore is not allowed
    if (underscore & 1)
        TomlError.x('unfinished numeric value', ctx);
    let str = ctx.s.slice(startPtr + 2, ctx.p);
    if (underscore)
        str = str.replaceAll('_', ''); // perf: replaceAll 1.25x faster than replace with a regex
    return parseInteger(ctx, str, base, startPtr);
}
function parseInteger(ctx, str, base, startPtr) {
    if (ctx.bi !== true)
        int: {
            let val = parseInt(str, base);
            if (!Number.isSafeInteger(val)) {
                if (ctx.bi)
                    break int;
                TomlError.x('integer value cannot be represented losslessly', ctx, startPtr);
            }
            return val;
        }
    return base === 10 ? BigInt(str) : BigInt((base === 2 ? '0b' : base === 8 ? '0o' : '0x') + str);
}
function parseDate(ctx, c, endChr) {
    let startPtr = ctx.p++, unsafeSeparator;
    if (!isDigit(c) ||
        !isDigit(ctx.s.charCodeAt(ctx.p++)) ||
        !isDigit(ctx.s.charCodeAt(ctx.p++)) ||
        !isDigit(ctx.s.charCodeAt(ctx.p++))) {
        return parseNumber(ctx, ctx.p = startPtr, c, 0, endChr);
    }
    ctx.p += 5;
    if (!isDigit(ctx.s.charCodeAt(ctx.p++)))
        TomlError.x('invalid date-time: date part is malformed', ctx, startPtr);
    if (ctx.p >= ctx.s.length || (((c = ctx.s.charCodeAt(ctx.p)) !== 0x20 || (unsafeSeparator = true, !isDigit(ctx.s.charCodeAt(ctx.p + 1)))) && c !== 0x54 /* T */ && c !== 0x74 /* t */)) {
        let t = ctx.s.slice(startPtr, ctx.p);
        return readDate(ctx, t, 3, false, startPtr);
    }
    if (ctx.s.charCodeAt(ctx.p += 3) !== 0x3a /* : */)
        TomlError.x('invalid date-time: time part is malformed', ctx, startPtr);
    if (ctx.s.charCodeAt(ctx.p += 3) === 0x3a /* : */)
        ctx.p += 3;
    if (ctx.s.charCodeAt(ctx.p) === 0x2e /* . */)
        while (isDigit(ctx.s.charCodeAt(++ctx.p)))
            ;
    if (c = ctx.s.charCodeAt(ctx.p)) {
        if (c === 0x5a /* Z */ || c === 0x7a /* z */) {
            let t = ctx.s.slice(startPtr, ++ctx.p);
            return readDate(ctx, t, 1, unsafeSeparator, startPtr, '[+00:00]');
        }
        if (c === 0x2b /* + */ || c === 0x2d /* - */) {
            // Temporal's ZonedDateTime is weird asf when it comes to dealing with traditional offsets...
            // It's 1.2x faster to allocate a new string to pass to ZDT than use Instant.toZonedDateTimeISO
            let t = ctx.s.slice(startPtr, ctx.p += 6);
            return readDate(ctx, t, 1, unsafeSeparator, startPtr, !ctx.ld && ('[' + ctx.s.slice(ctx.p - 6, ctx.p) + ']'));
        }
    }
    let t = ctx.s.slice(startPtr, ctx.p);
    return readDate(ctx, t, 2, unsafeSeparator, startPtr);
}
function parseTime(ctx, c, endChr) {
    let start = ctx.p;
    if (!isDigit(c) || !isDigit(ctx.s.charCodeAt(++ctx.p))) {
        return parseNumber(ctx, --ctx.p, c, 0, endChr);
    }
    if (ctx.s.charCodeAt(ctx.p += 4) === 0x3a /* : */)
        ctx.p += 3;
    if (ctx.s.charCodeAt(ctx.p) === 0x2e /* . */)
        while (isDigit(ctx.s.charCodeAt(++ctx.p)))
            ;
    let t = ctx.s.slice(start, ctx.p);
    return readDate(ctx, t, 4, false, start);
}
function readDate(ctx, str, type, unsafeDelim, errPtr, temporalSuffix) {
    if (ctx.ld) {
        let date = new TomlDate(str, type, unsafeDelim);
        if (!date.isValid())
            TomlError.x('invalid date', ctx, errPtr);
        return date;
    }
    try {
        if (temporalSuffix)
            str += temporalSuffix;
        switch (type) {
            case 1: return Temporal.ZonedDateTime.from(str);
            case 2: return Temporal.PlainDateTime.from(str);
            case 3: return Temporal.PlainDate.from(str);
            case 4: return Temporal.PlainTime.from(str);
        }
    }
    catch (e) {
        TomlError.x(e instanceof Error ? e.message : '' + e, ctx, errPtr);
    }
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
/** @internal */
function skipComment(ctx) {
    for (; ctx.p < ctx.s.length; ctx.p++) {
        let c = ctx.s.charCodeAt(ctx.p);
        if (c === 0xa /* \n */)
            break;
        if (c === 0xd /* \r */ && ctx.s.charCodeAt(ctx.p + 1) === 0xa /* \n */) {
            ctx.p++;
            break;
        }
        if ((c < 0x20 && c !== 0x9 /* \t */) || c === 0x7f) {
            TomlError.x('control characters are not allowed in comments', ctx);
        }
    }
}
/** @internal */
function skipVoid(ctx, banNewLines, banComments) {
    let c;
    while (ctx.p < ctx.s.length) {
        while (ctx.p < ctx.s.length && ((c = ctx.s.charCodeAt(ctx.p)) === 0x20 ||
            c === 0x9 /* \t */ ||
            (!banNewLines &&
                (c === 0xa /* \n */ || (c === 0xd /* \r */ && ctx.s.charCodeAt(ctx.p + 1) === 0xa /* \n */)))))
            ctx.p++;
        if (banComments || c !== 0x23 /* # */)
            break;
        skipComment(ctx);
    }
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
/** @internal */
function parseKey(ctx, end = 0x3d /* = */) {
    // States:
    // 0: before first char
    // 1: parsing bare key
    // 2: after key component
    let startPtr;
    let state = 0;
    let parsed = [];
    let sliceStart;
    let c = ctx.s.charCodeAt(startPtr = ctx.p);
    do {
        // End of key
        if (c === end) {
            if (!state)
                TomlError.x('unexpected end of key', ctx);
            if (state === 1)
                parsed.push(ctx.s.slice(sliceStart, ctx.p));
            return ctx.p++, parsed;
        }
        // Dotted key separator
        else if (c === 0x2e /* . */) {
            if (!state)
                TomlError.x('illegal empty bare key', ctx);
            if (state === 1)
                parsed.push(ctx.s.slice(sliceStart, ctx.p));
            state = 0;
        }
        // Quoted key
        else if (!state && (c === 0x22 /* " */ || c === 0x27 /* ' */)) {
            if (c === ctx.s.charCodeAt(ctx.p + 1) && c === ctx.s.charCodeAt(ctx.p + 2))
                TomlError.x('illegal quoted key: multiline strings are not allowed', ctx);
            parsed.push(parseString(ctx));
            state = 2;
            ctx.p--;
        }
        // Whitespace; no-op in state 0 and 2, end of bare key in state 1
        else if (c === 0x20 || c === 0x9 /* \t */) {
            if (state === 1) {
                parsed.push(ctx.s.slice(sliceStart, ctx.p));
                state = 2;
            }
        }
        // If state is post-key, no character is allowed; otherwise ensure it's a bare-key component
        else if (state === 2 || (c < 0x30 && c !== 0x2d /* - */) || (c > 0x39 && c < 0x41) || (c > 0x5a && c < 0x61 && c !== 0x5f /* _ */) || c > 0x7a) {
            TomlError.x('illegal character in key', ctx);
        }
        // Illegal character
        else if (!state) {
            state = 1;
            sliceStart = ctx.p;
        }
    } while (c = ctx.s.charCodeAt(++ctx.p));
    TomlError.x('incomplete key-value: cannot find end of key', ctx, startPtr);
}
/** @internal */
function parseInlineTable(ctx) {
    let startPtr = ctx.p++;
    let res = Object.create(null);
    let seen = new Set();
    let c;
    while (ctx.p < ctx.s.length) {
        skipVoid(ctx);
        if ((c = ctx.s.charCodeAt(ctx.p)) === 0x7d /* } */) {
            ctx.p++;
            return res;
        }
        let k;
        let t = res;
        let hasOwn = false;
        let errPtr = ctx.p;
        let key = parseKey(ctx);
        for (let i = 0; i < key.length; i++) {
            if (i)
                t = hasOwn ? t[k] : (t[k] = Object.create(null));
            k = key[i];
            if ((hasOwn = Object.hasOwn(t, k)) && (typeof t[k] !== 'object' || seen.has(t[k]))) {
                TomlError.x('trying to redefine an already defined value', ctx, errPtr);
            }
            let unsafe = k === '__proto__';
            if (ctx.uk && (unsafe || k === 'constructor')) {
                t = ctx.uk !== 1 && TomlError.x('document contains an unsafe property', ctx, errPtr);
                break;
            }
            if (!hasOwn && unsafe) {
                Object.defineProperty(t, k, { enumerable: true, configurable: true, writable: true });
            }
        }
        if (hasOwn) {
            TomlError.x('trying to redefine an already defined value', ctx, errPtr);
        }
        skipVoid(ctx, true, true);
        let value = extractValue(ctx, 0x7d /* } */);
        if (t && typeof (t[k] = value) === 'object')
            seen.add(value);
        skipVoid(ctx);
        if ((c = ctx.s.charCodeAt(ctx.p++)) === 0x7d /* } */) {
            return res;
        }
        if (c !== 0x2c /* , */)
            TomlError.x('expected comma or end of structure', ctx, ctx.p - 1);
    }
    TomlError.x('unfinished table', ctx, startPtr);
}
/** @internal */
function parseArray(ctx) {
    let startPtr = ctx.p++;
    let res = [];
    let c;
    while (ctx.p < ctx.s.length) {
        skipVoid(ctx);
        if ((c = ctx.s.charCodeAt(ctx.p)) === 0x5d /* ] */) {
            ctx.p++;
            return res;
        }
        res.push(extractValue(ctx, 0x5d /* ] */));
        skipVoid(ctx);
        if ((c = ctx.s.charCodeAt(ctx.p++)) === 0x5d /* ] */) {
            return res;
        }
        if (c !== 0x2c /* , */)
            TomlError.x('expected comma or end of structure', ctx, ctx.p - 1);
    }
    TomlError.x('unfinished array', ctx, startPtr);
}

/*!
 * Copyright (c) Squirrel Chat et al., All rights reserved.
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice, this
 *    list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above copyright notice,
 *    this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 * 3. Neither the name of the copyright holder nor the names of its contributors
 *    may be used to endorse or promote products derived from this software without
 *    specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
 * ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
 * DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
 * FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
 * SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
 * CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
 * OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 * OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */
function peekTable(ctx, key, table, meta, type) {
    let t = table;
    let m = meta;
    let k;
    let hasOwn = false;
    let state;
    for (let i = 0; i < key.length; i++) {
        if (i) {
            t = hasOwn ? t[k] : (t[k] = Object.create(null));
            m = (state = m[k]).c;
            if (type === 0 /* Type.DOTTED */ && (state.t === 1 /* Type.EXPLICIT */ || state.t === 2 /* Type.ARRAY */)) {
                return null;
            }
            if (state.t === 2 /* Type.ARRAY */) {
                let l = t.length - 1;
                t = t[l];
                m = m[l].c;
            }
        }
        k = key[i];
        if ((hasOwn = Object.hasOwn(t, k)) && m[k]?.t === 0 /* Type.DOTTED */ && m[k]?.d) {
            return null;
        }
        if (!hasOwn) {
            let unsafe = k === '__proto__';
            if (ctx.uk && (unsafe || k === 'constructor'))
                return false;
            if (unsafe) {
                Object.defineProperty(t, k, { enumerable: true, configurable: true, writable: true });
                Object.defineProperty(m, k, { enumerable: true, configurable: true, writable: true });
            }
            m[k] = {
                t: i < key.length - 1 && type === 2 /* Type.ARRAY */
                    ? 3 /* Type.ARRAY_DOTTED */ : type,
                d: false,
                i: 0,
                c: Object.create(null),
            };
        }
    }
    state = m[k];
    if (state.t !== type && !(type === 1 /* Type.EXPLICIT */ && state.t === 3 /* Type.ARRAY_DOTTED */)) {
        // Bad key type!
        return null;
    }
    if (type === 2 /* Type.ARRAY */) {
        if (!state.d) {
            state.d = true;
            t[k] = [];
        }
        t[k].push(t = Object.create(null));
        state.c[state.i++] = (state = { t: 1 /* Type.EXPLICIT */, d: false, i: 0, c: Object.create(null) });
    }
    if (state.d) {
        // Redefining a table!
        return null;
    }
    state.d = true;
    if (type === 1 /* Type.EXPLICIT */) {
        t = hasOwn ? t[k] : (t[k] = Object.create(null));
    }
    else if (type === 0 /* Type.DOTTED */ && hasOwn) {
        return null;
    }
    return [k, t, state.c];
}
function validateTablePeek(ctx, peek, ptr) {
    if (peek === null || ctx.uk === 2)
        TomlError.x(peek === null
            ? 'trying to redefine an already defined table or value'
            : 'document contains an unsafe property', ctx, ptr);
}
function parse(toml, options = {}) {
    let ctx = {
        s: toml,
        p: 0,
        d: options.maxDepth ?? 1000,
        bi: options.integersAsBigInt ?? false,
        ld: options.useLegacyDate ?? true,
        uk: options.unsafeKeyBehaviour === 'throw' ? 2 : options.unsafeKeyBehaviour === 'drop' ? 1 : 0,
    };
    let res = Object.create(null);
    let meta = Object.create(null);
    let tmp;
    let skipping = false;
    let tbl = res;
    let m = meta;
    // BOM is allowed, skip.
    // JS is UTF-16, so we have to check for the UTF-16 BOM instead of the UTF-8 BOM sequence!
    if (toml.charCodeAt(0) === 0xfeff)
        ctx.p++;
    skipVoid(ctx);
    while (ctx.p < toml.length) {
        if (toml.charCodeAt(ctx.p) === 0x5b /* [ */) {
            let isTableArray = toml.charCodeAt(++ctx.p) === 0x5b; /* [ */
            tmp = ctx.p += +isTableArray;
            skipping = false;
            let k = parseKey(ctx, 0x5d /* ] */);
            if (isTableArray) {
                if (toml.charCodeAt(ctx.p) !== 0x5d /* ] */) {
                    TomlError.x('expected end of table array declaration', ctx);
                }
                ctx.p++;
            }
            let p = peekTable(ctx, k, res, meta, isTableArray ? 2 /* Type.ARRAY */ : 1 /* Type.EXPLICIT */);
            if (!p) {
                validateTablePeek(ctx, p, tmp);
                skipping = true;
            }
            else {
                m = p[2];
                tbl = p[1];
            }
        }
        else {
            tmp = ctx.p;
            let k = parseKey(ctx);
            let p = peekTable(ctx, k, tbl, m, 0 /* Type.DOTTED */);
            if (!p && !skipping)
                validateTablePeek(ctx, p, tmp);
            skipVoid(ctx, true, true);
            let v = extractValue(ctx, void 0);
            if (p && !skipping)
                p[1][p[0]] = v;
        }
        skipVoid(ctx, true);
        if (ctx.p < toml.length && (tmp = toml.charCodeAt(ctx.p)) !== 0xa /* \n */ && (tmp !== 0xd /* \r */ || toml.charCodeAt(ctx.p + 1) !== 0xa /* \n */)) {
            TomlError.x('each key-value declaration must be followed by an end-of-line', ctx);
        }
        skipVoid(ctx);
    }
    return res;
}

// Userinfo out of free text. Messages quote what a user wrote (a requirement, a TOML value) and
// such text may hold a URL with `user:password@` or `<token>@`: the quote keeps everything else.
// Up to the LAST `@` before the host: a password may hold an unencoded `@` itself.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#'"]*@/gi;
/** `text` with the userinfo of every `scheme://…@` in it removed. */
function redactUserinfo(text) {
    return text.includes('@') ? text.replace(USERINFO, '$1') : text;
}

// Reading TOML documents with errors that name the file, line and column.
/** Parse TOML text; a syntax error becomes `errorClass` pointing at the line and column. */
function parseToml(text, file, errorClass = ConfigError, hint = 'fix the TOML syntax at that position') {
    try {
        return parse(text);
    }
    catch (e) {
        if (e instanceof TomlError) {
            // smol-toml's message carries a code excerpt after a blank line; keep the first sentence.
            const first = e.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
            throw new errorClass(`malformed TOML: ${first}`, { file, line: e.line, column: e.column }, hint);
        }
        throw e;
    }
}
/** Read and parse a TOML file; a missing file is an error that says which. */
function readTomlFile(path, displayPath, errorClass = ConfigError, hint, 
/** Rewrites the text before it is parsed (keeping its lines); `text` stays the original. */
prepare) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch (e) {
        const code = e.code;
        throw new errorClass(code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(e)})`, { file: displayPath }, hint);
    }
    return { text, data: parseToml(prepare ? prepare(text) : text, displayPath, errorClass) };
}
function isTable(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
/**
 * Typed access into parsed TOML with key-path errors. Each getter names the key path and the
 * type expected, so a wrong type in pyproject.toml reads as "tool.fast-build.platforms: expected
 * an array of strings" rather than a crash later.
 */
class TomlReader {
    file;
    errorClass;
    constructor(file, errorClass = ConfigError) {
        this.file = file;
        this.errorClass = errorClass;
    }
    fail(keyPath, message, hint, line) {
        throw new this.errorClass(message, { file: this.file, keyPath, ...(line ? { line } : {}) }, hint);
    }
    table(v, keyPath) {
        if (!isTable(v))
            this.fail(keyPath, `expected a table, found ${describeType(v)}`);
        return v;
    }
    optTable(v, keyPath) {
        return v === undefined ? undefined : this.table(v, keyPath);
    }
    string(v, keyPath) {
        if (typeof v !== 'string')
            this.fail(keyPath, `expected a string, found ${describeType(v)}`);
        return v;
    }
    optString(v, keyPath) {
        return v === undefined ? undefined : this.string(v, keyPath);
    }
    bool(v, keyPath) {
        if (typeof v !== 'boolean')
            this.fail(keyPath, `expected true or false, found ${describeType(v)}`);
        return v;
    }
    optBool(v, keyPath) {
        return v === undefined ? undefined : this.bool(v, keyPath);
    }
    array(v, keyPath) {
        if (!Array.isArray(v))
            this.fail(keyPath, `expected an array, found ${describeType(v)}`);
        return v;
    }
    optArray(v, keyPath) {
        return v === undefined ? undefined : this.array(v, keyPath);
    }
    strings(v, keyPath) {
        return this.array(v, keyPath).map((item, i) => this.string(item, `${keyPath}[${i}]`));
    }
    optStrings(v, keyPath) {
        return v === undefined ? undefined : this.strings(v, keyPath);
    }
    tables(v, keyPath) {
        return this.array(v, keyPath).map((item, i) => this.table(item, `${keyPath}[${i}]`));
    }
}
function describeType(v) {
    if (v === undefined)
        return 'nothing';
    if (v === null)
        return 'null';
    if (Array.isArray(v))
        return 'an array';
    if (v instanceof Date)
        return 'a date';
    if (typeof v === 'object')
        return 'a table';
    if (typeof v === 'string') {
        // A misplaced URL may carry a credential: quoted without it.
        const s = redactUserinfo(v);
        return `the string ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)}`;
    }
    return `${typeof v} ${String(v)}`;
}

// PEP 440 versions and version specifiers, as packaging 26.2 implements them: `Version(...)`,
// `Specifier(...)` and `Specifier.contains(v, prereleases=True)`. Markers need exactly these
// semantics; the rest of fast-build (choosing among locked versions) uses the same code.
//
// Why not @renovatebot/pep440: checked against packaging 26.2 it disagrees where markers
// need exactness: `Specifier(">1.0.dev0").contains("1.0")` (packaging: true), `~=v1.0`
// (packaging never matches: its prefix is built from the raw string), and it accepts specifier
// strings packaging refuses (`==1.0a1.*`), which decides between a version comparison and
// packaging's plain string fallback. So this is a line-by-line port of the parts markers use;
// the differential test runs it against packaging on generated versions and specifiers.
/** Python's `\s` / `str.isspace()` for str patterns (Unicode 14, as in CPython 3.11). */
const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
/** Python `str.strip()` (JavaScript's `trim` also removes U+FEFF and misses U+001C..U+001F, U+0085). */
function pyStrip(s) {
    return s.replace(STRIP, '');
}
/** CPython refuses `int()` of more than 4300 digits (sys.int_info.default_max_str_digits). */
const MAX_INT_DIGITS = 4300;
function num(digits) {
    if (digits.length > MAX_INT_DIGITS) {
        throw new MarkerEvaluationError(`a version number has ${digits.length} digits; Python refuses integers longer than ${MAX_INT_DIGITS} digits`);
    }
    const s = digits.replace(/^0+/, '');
    return s === '' ? '0' : s;
}
const isDigits = (s) => /^[0-9]+$/.test(s);
function compareNum(a, b) {
    if (a.length !== b.length)
        return a.length < b.length ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
}
const LETTERS = {
    alpha: 'a',
    beta: 'b',
    c: 'rc',
    pre: 'rc',
    preview: 'rc',
    rev: 'post',
    r: 'post'
};
function normalizeLetter(l) {
    const lower = l.toLowerCase();
    return LETTERS[lower] ?? lower;
}
const S = `[${PY_SPACE}]`;
// packaging's VERSION_PATTERN. It uses possessive quantifiers on CPython >= 3.11.5; none of them
// changes what a full match accepts (nothing after a possessive part needs what it consumed).
const VERSION_RE = new RegExp(`^${S}*v?(?:([0-9]+)!)?([0-9]+(?:\\.[0-9]+)*)` +
    `(?:[._-]?(alpha|a|beta|b|preview|pre|c|rc)[._-]?([0-9]+)?)?` +
    `(?:-([0-9]+)|[._-]?(post|rev|r)[._-]?([0-9]+)?)?` +
    `(?:[._-]?(dev)[._-]?([0-9]+)?)?` +
    `(?:\\+([a-z0-9]+(?:[._-][a-z0-9]+)*))?${S}*$`, 'i');
const CACHE_LIMIT$2 = 20_000;
const versionCache = new Map();
function remember(cache, key, value) {
    if (cache.size >= CACHE_LIMIT$2)
        cache.clear();
    cache.set(key, value);
    return value;
}
/** `Version(text)`, or null where packaging raises InvalidVersion. */
function parseVersion(text) {
    const hit = versionCache.get(text);
    if (hit !== undefined || versionCache.has(text))
        return hit ?? null;
    return remember(versionCache, text, parseVersionUncached(text));
}
function parseVersionUncached(text) {
    // packaging's fast path for digits and dots only (the empty string included).
    if (/^[0-9.]*$/.test(text)) {
        const parts = text.split('.');
        if (parts.includes(''))
            return null;
        return { epoch: '0', release: parts.map(num), pre: null, post: null, dev: null, local: null };
    }
    const m = VERSION_RE.exec(text);
    if (!m)
        return null;
    const [, epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local] = m;
    return {
        epoch: epoch ? num(epoch) : '0',
        release: release.split('.').map(num),
        pre: preL ? [normalizeLetter(preL), num(preN ?? '0')] : null,
        post: postL ? num(postN2 ?? '0') : postN1 ? num(postN1) : null,
        dev: devL ? num(devN ?? '0') : null,
        local: local
            ? local.split(/[._-]/).map((part) => (/^[0-9]+$/.test(part) ? num(part) : part.toLowerCase()))
            : null
    };
}
function isPrerelease(v) {
    return v.dev !== null || v.pre !== null;
}
/** `str(Version)`: the normalized form; `trimZeros` is canonicalize_version's strip_trailing_zero. */
function versionToString(v, trimZeros = false) {
    let release = v.release;
    if (trimZeros) {
        let i = release.length;
        while (i > 1 && release[i - 1] === '0')
            i--;
        release = release.slice(0, i);
    }
    let s = release.join('.');
    if (v.epoch !== '0')
        s = `${v.epoch}!${s}`;
    if (v.pre)
        s += v.pre[0] + v.pre[1];
    if (v.post !== null)
        s += `.post${v.post}`;
    if (v.dev !== null)
        s += `.dev${v.dev}`;
    if (v.local !== null)
        s += `+${v.local.join('.')}`;
    return s;
}
function trimmedLength(release) {
    let i = release.length;
    while (i > 0 && release[i - 1] === '0')
        i--;
    return i;
}
const PRE_RANK = { a: 0, b: 1, rc: 2 };
/** packaging's `_cmpkey` suffix: (pre rank, pre n, post rank, post n, dev rank, dev n). */
function suffix(v) {
    const preRank = v.pre ? PRE_RANK[v.pre[0]] : v.post === null && v.dev !== null ? -1 : 3;
    return [
        preRank,
        v.pre ? v.pre[1] : '0',
        v.post === null ? 0 : 1,
        v.post ?? '0',
        v.dev === null ? 1 : 0,
        v.dev ?? '0'
    ];
}
/** PEP 440 ordering, exactly as packaging's `_cmpkey` tuples compare. */
function compareVersions(a, b) {
    let c = compareNum(a.epoch, b.epoch);
    if (c)
        return c;
    const la = trimmedLength(a.release);
    const lb = trimmedLength(b.release);
    for (let i = 0; i < Math.min(la, lb); i++) {
        c = compareNum(a.release[i], b.release[i]);
        if (c)
            return c;
    }
    if (la !== lb)
        return la < lb ? -1 : 1;
    const sa = suffix(a);
    const sb = suffix(b);
    for (let i = 0; i < 6; i++) {
        const x = sa[i];
        const y = sb[i];
        c = typeof x === 'number' ? x - y : compareNum(x, y);
        if (c)
            return c < 0 ? -1 : 1;
    }
    if (a.local === null || b.local === null)
        return a.local === b.local ? 0 : a.local === null ? -1 : 1;
    for (let i = 0; i < Math.min(a.local.length, b.local.length); i++) {
        const x = a.local[i];
        const y = b.local[i];
        const xn = isDigits(x);
        const yn = isDigits(y);
        // Strings sort before numbers; numbers numerically; strings by code point.
        c = xn && yn ? compareNum(x, y) : xn !== yn ? (xn ? 1 : -1) : x < y ? -1 : x > y ? 1 : 0;
        if (c)
            return c;
    }
    return a.local.length === b.local.length ? 0 : a.local.length < b.local.length ? -1 : 1;
}
const withoutLocal = (v) => (v.local === null ? v : { ...v, local: null });
const PRE = '(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?';
const POST = '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?';
const DEV = '(?:[-_.]?dev[-_.]?[0-9]*)?';
const LOCAL = '(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?';
/** packaging's `Specifier._specifier_regex_str` (compiled with IGNORECASE). */
const SPECIFIER_PATTERN = `(?:===${S}*[^${PY_SPACE};)]*` +
    `|(?:==|!=)${S}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*(?:\\.\\*|${PRE}${POST}${DEV}${LOCAL})?` +
    `|~=${S}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)+${PRE}${POST}${DEV}` +
    `|(?:<=|>=|<|>)${S}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*${PRE}${POST}${DEV})`;
const SPECIFIER_RE = new RegExp(`^${S}*${SPECIFIER_PATTERN}${S}*$`, 'i');
const specifierCache = new Map();
/** `Specifier(text)`, or null where packaging raises InvalidSpecifier. */
function parseSpecifier(text) {
    const hit = specifierCache.get(text);
    if (hit !== undefined || specifierCache.has(text))
        return hit ?? null;
    let spec = null;
    if (SPECIFIER_RE.test(text)) {
        const s = pyStrip(text);
        const len = s.startsWith('===') ? 3 : /^(?:~=|==|!=|<=|>=)/.test(s) ? 2 : 1;
        spec = { operator: s.slice(0, len), version: pyStrip(s.slice(len)) };
    }
    return remember(specifierCache, text, spec);
}
function specifierToString(s) {
    return s.operator + s.version;
}
/** `Specifier.contains(item, prereleases=True)`. */
function specifierContains(spec, item) {
    const prospective = parseVersion(item);
    if (spec.operator === '===')
        return item.toLowerCase() === spec.version.toLowerCase();
    if (prospective === null)
        return false;
    switch (spec.operator) {
        case '~=':
            return compareCompatible(prospective, spec.version);
        case '==':
            return compareEqual(prospective, spec.version);
        case '!=':
            return !compareEqual(prospective, spec.version);
        case '<=':
            return compareVersions(withoutLocal(prospective), requireVersion(spec.version)) <= 0;
        case '>=':
            return compareVersions(withoutLocal(prospective), requireVersion(spec.version)) >= 0;
        case '<':
            return compareLessThan(prospective, requireVersion(spec.version));
        case '>':
            return compareGreaterThan(prospective, requireVersion(spec.version));
    }
}
function requireVersion(text) {
    const v = parseVersion(text);
    if (v === null)
        throw new MarkerEvaluationError(`${JSON.stringify(text)} is not a valid version`);
    return v;
}
/** `_version_split`: epoch first, then the dot parts, with `1rc1` split into `1`, `rc1`. */
function versionSplit(version) {
    const bang = version.lastIndexOf('!');
    const result = [bang < 0 ? '0' : version.slice(0, bang) || '0'];
    for (const item of version.slice(bang + 1).split('.')) {
        const m = /^([0-9]+)((?:a|b|c|rc)[0-9]+)$/.exec(item);
        if (m)
            result.push(m[1], m[2]);
        else
            result.push(item);
    }
    return result;
}
function numericPrefixLength(split) {
    let n = 0;
    while (n < split.length && isDigits(split[n]))
        n++;
    return n;
}
function canonicalizeVersionText(text) {
    const v = parseVersion(text);
    return v === null ? text : versionToString(v);
}
function compareEqual(prospective, spec) {
    if (spec.endsWith('.*')) {
        const splitSpec = versionSplit(canonicalizeVersionText(spec.slice(0, -2)));
        const specNumeric = numericPrefixLength(splitSpec);
        let split = versionSplit(versionToString(withoutLocal(prospective)));
        const numeric = numericPrefixLength(split);
        if (specNumeric > numeric) {
            split = [
                ...split.slice(0, numeric),
                ...Array(specNumeric - numeric).fill('0'),
                ...split.slice(numeric)
            ];
        }
        const shortened = split.slice(0, splitSpec.length);
        return shortened.length === splitSpec.length && shortened.every((p, i) => p === splitSpec[i]);
    }
    const specVersion = requireVersion(spec);
    const p = specVersion.local !== null ? prospective : withoutLocal(prospective);
    return compareVersions(p, specVersion) === 0;
}
const isSuffix = (segment) => /^(?:dev|a|b|rc|post)/.test(segment);
function compareCompatible(prospective, spec) {
    const parts = versionSplit(spec);
    let n = 0;
    while (n < parts.length && !isSuffix(parts[n]))
        n++;
    // packaging's `_version_join(components[:-1])` fails to unpack an empty list.
    if (n <= 1)
        throw new MarkerEvaluationError(`cannot take the release prefix of ~=${spec}`);
    const prefix = parts.slice(0, n - 1);
    const prefixText = `${prefix[0]}!${prefix.slice(1).join('.')}.*`;
    return (compareVersions(withoutLocal(prospective), requireVersion(spec)) >= 0 &&
        compareEqual(prospective, prefixText));
}
function compareLessThan(prospective, spec) {
    if (compareVersions(prospective, spec) >= 0)
        return false;
    // "<V MUST NOT allow a pre-release of V unless V is itself a pre-release."
    if (!isPrerelease(spec) && isPrerelease(prospective)) {
        const earliest = { ...spec, dev: '0', local: null };
        if (compareVersions(prospective, earliest) >= 0)
            return false;
    }
    return true;
}
function compareGreaterThan(prospective, spec) {
    if (compareVersions(prospective, spec) <= 0)
        return false;
    // ">V MUST NOT allow a post-release of V unless V is itself a post-release."
    if (spec.post === null && prospective.post !== null) {
        const base = { ...prospective, post: null, dev: null, local: null };
        if (compareVersions(base, spec) === 0)
            return false;
    }
    // ">V MUST NOT match a local version of V."
    if (prospective.local !== null && compareVersions(withoutLocal(prospective), spec) === 0)
        return false;
    return true;
}
/**
 * `SpecifierSet(text).contains(item, prereleases=True)`: every comma-separated specifier holds
 * (an empty set holds for any version). Null when a part is not a valid specifier.
 */
function specifierSetContains(text, item) {
    for (const part of text.split(',')) {
        if (pyStrip(part) === '')
            continue;
        const spec = parseSpecifier(part);
        if (spec === null)
            return null;
        if (!specifierContains(spec, item))
            return false;
    }
    return true;
}
/** Versions equal under PEP 440 (`1.0 == 1.0.0`, `1.0+local` differs from `1.0`); false if either is invalid. */
function versionsEqual(a, b) {
    const x = parseVersion(a);
    const y = parseVersion(b);
    return x !== null && y !== null && compareVersions(x, y) === 0;
}

// Version constraints from PEP 440 specifiers and Poetry's constraint syntax, as predicates.
// They only choose among packages a lock already pinned (several versions of one name), so an
// unreadable constraint matches everything rather than failing the plan.
const ANY = { text: '*', matches: () => true };
/** A PEP 440 specifier set (`>=1.2,<2`). Empty means any version. */
function pep440Matcher(specifier) {
    const text = specifier.trim();
    if (text === '' || text === '*')
        return null;
    return {
        text,
        // An invalid version or specifier cannot rule a candidate out (see above).
        matches: (v) => {
            try {
                return specifierSetContains(text, v) ?? true;
            }
            catch {
                return true;
            }
        }
    };
}
/**
 * Poetry's constraint syntax (poetry-core `parse_constraint`): `||` alternatives of comma- or
 * space-separated clauses; `^` caret and `~` tilde ranges; `1.2.*` wildcards; a bare version is
 * an exact pin.
 */
function poetryMatcher(constraint) {
    const text = constraint.trim();
    if (text === '' || text === '*')
        return null;
    const alternatives = poetryToPep440(text);
    if (alternatives === null)
        return ANY; // unreadable: match all, see above
    if (alternatives.some((a) => a.length === 0))
        return null;
    const matchers = alternatives.map((a) => pep440Matcher(a.join(',')));
    return { text, matches: (v) => matchers.some((m) => m.matches(v)) };
}
/**
 * A Poetry constraint as alternatives (OR) of PEP 440 clauses (AND); an empty alternative
 * means any version. Null when a clause cannot be read.
 */
function poetryToPep440(constraint) {
    const alternatives = [];
    for (const alt of constraint.trim().split(/\s*\|\|?\s*/)) {
        const clauses = alt
            .trim()
            .replace(/([<>=!~^]+)\s+(?=\d)/g, '$1') // ">= 1.0" → ">=1.0"
            .split(/\s*,\s*|\s+/)
            .filter((c) => c !== '');
        const pep = [];
        for (const clause of clauses) {
            const converted = poetryClause(clause);
            if (converted === null)
                return null;
            if (converted !== '')
                pep.push(...converted.split(','));
        }
        alternatives.push(pep);
    }
    return alternatives;
}
function release(v) {
    const m = /^v?(\d+(?:\.\d+)*)/.exec(v);
    return m ? m[1].split('.').map(Number) : null;
}
/** One Poetry clause → an equivalent PEP 440 clause ('' for any, null when unreadable). */
function poetryClause(clause) {
    if (clause === '*' || clause === 'x' || clause === 'X')
        return '';
    if (clause.startsWith('^')) {
        const v = clause.slice(1);
        const r = release(v);
        if (!r)
            return null;
        const [major = 0, minor = 0] = r;
        let upper;
        if (major > 0 || r.length === 1)
            upper = `${major + 1}.0.0`;
        else if (minor > 0 || r.length === 2)
            upper = `0.${minor + 1}.0`;
        else
            upper = `0.0.${(r[2] ?? 0) + 1}`;
        return `>=${v},<${upper}`;
    }
    if (clause.startsWith('~='))
        return clause;
    if (clause.startsWith('~')) {
        const v = clause.slice(1);
        const r = release(v);
        if (!r)
            return null;
        const upper = r.length === 1 ? `${r[0] + 1}.0.0` : `${r[0]}.${r[1] + 1}.0`;
        return `>=${v},<${upper}`;
    }
    if (/^(==|!=|>=|<=|>|<|===)/.test(clause))
        return clause;
    if (clause.startsWith('='))
        return `=${clause}`;
    // "1.2.*" / "1.2.x" wildcard, or a bare version meaning exactly that version.
    const wildcard = clause.replace(/\.[xX]$/, '.*');
    if (release(wildcard))
        return `==${wildcard}`;
    return null;
}

// The context-sensitive tokenizer of packaging 26.2 (`packaging/_tokenizer.py`), shared by the
// marker and requirement parsers. The rules are the same regular expressions; Python's `\b` and
// `$` are spelled out because JavaScript's differ (ASCII-only `\b`; Python's `$` also matches
// before a final newline).
/** Python's `\w` for str patterns: `str.isalnum()` or `_`. */
const WORD = '[\\p{L}\\p{N}_]';
/** Python's `\b`: a word character on exactly one side. */
const B = `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`;
function rules(b, flags) {
    return {
        LEFT_PARENTHESIS: /\(/y,
        RIGHT_PARENTHESIS: /\)/y,
        LEFT_BRACKET: /\[/y,
        RIGHT_BRACKET: /\]/y,
        SEMICOLON: /;/y,
        COMMA: /,/y,
        QUOTED_STRING: /'[^']*'|"[^"]*"/y,
        OP: /===|==|~=|!=|<=|>=|<|>/y,
        BOOLOP: new RegExp(`${b}(?:or|and)${b}`, `y${flags}`),
        IN: new RegExp(`${b}in${b}`, `y${flags}`),
        NOT: new RegExp(`${b}not${b}`, `y${flags}`),
        VARIABLE: new RegExp(`${b}(?:python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)` +
            `|platform[._](?:version|machine|python_implementation)|python_implementation` +
            `|implementation_(?:name|version)|extras?|dependency_groups)${b}`, `y${flags}`),
        SPECIFIER: new RegExp(SPECIFIER_PATTERN, 'yi'),
        AT: /@/y,
        URL: /[^ \t]+/y,
        IDENTIFIER: new RegExp(`${b}[a-zA-Z0-9][a-zA-Z0-9._-]*${b}`, `y${flags}`),
        VERSION_PREFIX_TRAIL: /\.\*/y,
        VERSION_LOCAL_LABEL_TRAIL: /\+[a-z0-9]+(?:[-_.][a-z0-9]+)*/y,
        WS: /[ \t]+/y
    };
}
/** Made on first use: the Unicode look-behinds cost milliseconds to compile, on every start. */
let unicodeRules = null;
/**
 * For ASCII text (virtually every marker), JavaScript's own `\b` is Python's `\b`: both see
 * [A-Za-z0-9_] as word characters there. These rules skip the slow Unicode look-behinds.
 */
const ASCII_RULES = rules('\\b', '');
// eslint-disable-next-line no-control-regex -- the whole ASCII range, on purpose
const ASCII = /^[\x00-\x7f]*$/;
/**
 * The characters each token can start with. Checking the next character first skips most regex
 * runs (the Unicode word-boundary look-behinds are slow); a token that cannot start here would not
 * match anyway, so results are unchanged.
 */
const FIRST = {
    BOOLOP: (c) => c === 'o' || c === 'a',
    IN: (c) => c === 'i',
    NOT: (c) => c === 'n',
    VARIABLE: (c) => 'posied'.includes(c),
    OP: (c) => '=~!<>'.includes(c),
    QUOTED_STRING: (c) => c === "'" || c === '"',
    IDENTIFIER: (c) => /[a-zA-Z0-9]/.test(c),
    WS: (c) => c === ' ' || c === '\t'
};
/**
 * How a source text is shown in messages: single quotes unless it contains one, and without the
 * userinfo of a URL in it (`name @ https://user:token@host/…`).
 */
function quoteSource(source) {
    const text = redactUserinfo(source);
    return text.includes("'") ? JSON.stringify(text) : `'${text}'`;
}
class Tokenizer {
    source;
    at;
    position = 0;
    rules;
    constructor(source, at) {
        this.source = source;
        this.at = at;
        this.rules = ASCII.test(source) ? ASCII_RULES : (unicodeRules ??= rules(B, 'u'));
    }
    /** The text of the token `name` at the current position, without consuming it. */
    peek(name) {
        const first = FIRST[name];
        if (first) {
            const c = this.source[this.position];
            if (c === undefined || c === '' || !first(c))
                return null;
        }
        const re = this.rules[name];
        re.lastIndex = this.position;
        const m = re.exec(this.source);
        return m ? m[0] : null;
    }
    /** Consumes the token `name` when it is next and returns its text. */
    take(name) {
        const text = this.peek(name);
        if (text !== null)
            this.position += text.length;
        return text;
    }
    /** Optional whitespace (spaces and tabs only, as in PEP 508). */
    ws() {
        this.take('WS');
    }
    /** Python's `$`: the end of the text, or just before a final newline. */
    atEnd() {
        const rest = this.source.length - this.position;
        return rest === 0 || (rest === 1 && this.source[this.position] === '\n');
    }
    /** 1-based column (in characters, not UTF-16 units) of a 0-based position. */
    column(position) {
        let col = 1;
        for (const _ of this.source.slice(0, position))
            col++;
        return col;
    }
    fail(message, position = this.position, hint) {
        const column = this.column(position);
        throw new MarkerSyntaxError(`${message} at column ${column} in ${quoteSource(this.source)}`, { ...this.at, column }, hint);
    }
}
const SIMPLE_ESCAPES = {
    '\\': '\\',
    "'": "'",
    '"': '"',
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v'
};
/**
 * The value of a QUOTED_STRING token, as `ast.literal_eval` (which packaging uses) computes it:
 * Python escape sequences are decoded, a line break or NUL inside the quotes is an error.
 * `start` is the token's position, for error columns.
 */
function decodeQuoted(tz, token, start) {
    const body = token.slice(1, -1);
    if (!/[\\\n\r\0]/.test(body))
        return body;
    let out = '';
    let i = 0;
    while (i < body.length) {
        const ch = body[i];
        const here = start + 1 + i;
        if (ch === '\n' || ch === '\r')
            tz.fail('a quoted string cannot contain a line break', here);
        if (ch === '\0')
            tz.fail('a quoted string cannot contain a NUL character', here);
        if (ch !== '\\') {
            out += ch;
            i++;
            continue;
        }
        const next = body[i + 1];
        if (next === undefined) {
            tz.fail('unterminated quoted string (a backslash escapes its closing quote)', start, 'write \\\\ for a literal backslash');
        }
        if (next === '\n') {
            i += 2; // line continuation
        }
        else if (next === '\r') {
            i += body[i + 2] === '\n' ? 3 : 2;
        }
        else if (next in SIMPLE_ESCAPES) {
            out += SIMPLE_ESCAPES[next];
            i += 2;
        }
        else if (next >= '0' && next <= '7') {
            const oct = /^[0-7]{1,3}/.exec(body.slice(i + 1))[0];
            out += String.fromCodePoint(parseInt(oct, 8));
            i += 1 + oct.length;
        }
        else if (next === 'x' || next === 'u' || next === 'U') {
            const len = next === 'x' ? 2 : next === 'u' ? 4 : 8;
            const hex = body.slice(i + 2, i + 2 + len);
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) {
                tz.fail(`truncated \\${next} escape in a quoted string`, here);
            }
            const code = parseInt(hex, 16);
            if (code > 0x10ffff)
                tz.fail(`\\${next}${hex} is not a Unicode character`, here);
            out += String.fromCodePoint(code);
            i += 2 + len;
        }
        else if (next === 'N') {
            tz.fail('\\N{...} escapes are not supported in marker strings', here, 'write the character itself');
        }
        else {
            out += '\\'; // unknown escapes keep their backslash
            i++;
        }
    }
    return out;
}

// PEP 508 environment markers: parse to an immutable tree, evaluate for an environment, print.
//
// Parsing and evaluation follow packaging 26.2 (`packaging/markers.py`, `_parser.py`) exactly,
// with these deliberate differences, all pinned by the differential test:
// - `extra` is evaluated against a SET of active extras, as uv and Poetry locks need:
//   `extra == "x"` holds iff x is active, `extra != "x"` iff it is not. Every other operator is
//   packaging's comparison against each active extra: true for some (positive operators) or for
//   all (`!=`, `not in`); with no active extra it is packaging's default `extra == ""`.
// - extra names are normalized (PEP 685) at every nesting level. packaging normalizes only
//   comparisons at the top level, so `(extra == "Foo_Bar")` never matches there.
// - `\N{NAME}` escapes in strings are refused (packaging decodes them with Python's Unicode
//   name table, which we do not carry).
const MARKER_VARIABLES = [
    'python_version',
    'python_full_version',
    'os_name',
    'sys_platform',
    'platform_release',
    'platform_system',
    'platform_version',
    'platform_machine',
    'platform_python_implementation',
    'implementation_name',
    'implementation_version',
    'extra',
    'extras',
    'dependency_groups'
];
// ---------------------------------------------------------------------------------------------
// Parsing
const ALIASES = {
    'os.name': 'os_name',
    'sys.platform': 'sys_platform',
    'platform.version': 'platform_version',
    'platform.machine': 'platform_machine',
    'platform.python_implementation': 'platform_python_implementation',
    python_implementation: 'platform_python_implementation'
};
const KNOWN = new Set(MARKER_VARIABLES);
/** packaging's `canonicalize_name` (PEP 503 without trimming), which it applies to extra names. */
function canonicalizeExtra(name) {
    return name.toLowerCase().replace(/[-_.]+/g, '-');
}
function variable(name) {
    return Object.freeze({ kind: 'variable', name });
}
function string(value) {
    return Object.freeze({ kind: 'string', value });
}
function valueText(v) {
    return v.kind === 'variable' ? v.name : v.value;
}
function parseValue(tz) {
    const start = tz.position;
    const name = tz.take('VARIABLE');
    if (name !== null)
        return variable(ALIASES[name] ?? name);
    const quoted = tz.take('QUOTED_STRING');
    if (quoted !== null)
        return string(decodeQuoted(tz, quoted, start));
    const ch = tz.source[start];
    if (ch === '"' || ch === "'")
        tz.fail('unterminated quoted string', start, `close it with ${ch}`);
    const word = /^[\p{L}\p{N}_.]+/u.exec(tz.source.slice(start))?.[0];
    if (word !== undefined && !/^[0-9]/.test(word)) {
        tz.fail(`unknown marker variable '${word}'`, start, `marker variables are ${MARKER_VARIABLES.join(', ')}; quote strings ("...")`);
    }
    tz.fail('expected a marker variable or a quoted string', start, word !== undefined ? `quote values, as in python_version >= "${word}"` : undefined);
}
const OPERATORS = '<, <=, !=, ==, >=, >, ~=, ===, in, not in';
function parseOperator(tz) {
    if (tz.take('IN') !== null)
        return 'in';
    if (tz.take('NOT') !== null) {
        if (tz.take('WS') === null)
            tz.fail("expected whitespace after 'not'");
        if (tz.take('IN') === null)
            tz.fail("expected 'in' after 'not'");
        return 'not in';
    }
    const op = tz.take('OP');
    if (op !== null)
        return op;
    const single = tz.source[tz.position] === '=';
    tz.fail(`expected a marker operator (one of ${OPERATORS})`, tz.position, single ? 'write == to test equality' : undefined);
}
function parseComparison(tz) {
    tz.ws();
    let left = parseValue(tz);
    tz.ws();
    const op = parseOperator(tz);
    tz.ws();
    let right = parseValue(tz);
    tz.ws();
    // packaging's `_normalize_extras`: the other side of an `extra` comparison is an extra name.
    if (left.kind === 'variable' && left.name === 'extra')
        right = string(canonicalizeExtra(valueText(right)));
    else if (right.kind === 'variable' && right.name === 'extra')
        left = string(canonicalizeExtra(valueText(left)));
    return Object.freeze({ kind: 'compare', left, op, right });
}
function combine(kind, items) {
    if (items.length === 1)
        return items[0];
    const flat = items.flatMap((m) => (m.kind === kind ? m.items : [m]));
    return Object.freeze({ kind, items: Object.freeze(flat) });
}
function parseAtom(tz) {
    tz.ws();
    const open = tz.position;
    let m;
    if (tz.take('LEFT_PARENTHESIS') !== null) {
        tz.ws();
        m = parseMarkerExpression(tz);
        tz.ws();
        if (tz.take('RIGHT_PARENTHESIS') === null) {
            tz.fail(`expected ')' to close the '(' opened at column ${tz.column(open)}`);
        }
    }
    else {
        m = parseComparison(tz);
    }
    tz.ws();
    return m;
}
/** `marker = atom (('and' | 'or') atom)*`, `and` binding tighter. Used by the requirement parser. */
function parseMarkerExpression(tz) {
    const groups = [[parseAtom(tz)]];
    for (let op = tz.take('BOOLOP'); op !== null; op = tz.take('BOOLOP')) {
        const atom = parseAtom(tz);
        if (op === 'or')
            groups.push([atom]);
        else
            groups[groups.length - 1].push(atom);
    }
    return combine('or', groups.map((g) => combine('and', g)));
}
const CACHE_LIMIT$1 = 10_000;
const cache$1 = new Map();
/**
 * Parses a PEP 508 marker. Accepts what packaging 26.2 accepts (including the legacy dotted
 * names `os.name`, `sys.platform`, `platform.version`, `platform.machine`,
 * `platform.python_implementation` and `python_implementation`). A syntax error is a
 * MarkerSyntaxError whose `location.column` is the 1-based column of the offending character,
 * merged into `at` (file, line, keyPath of the string). With `at`, the marker also remembers it,
 * so that an evaluation error names the same place (see locateMarker).
 */
function parseMarker(text, at) {
    let marker = cache$1.get(text);
    if (marker === undefined) {
        const tz = new Tokenizer(text, at);
        marker = parseMarkerExpression(tz);
        if (!tz.atEnd())
            tz.fail("expected 'and', 'or' or the end of the marker");
        if (cache$1.size >= CACHE_LIMIT$1)
            cache$1.clear();
        cache$1.set(text, marker);
    }
    return at === undefined ? marker : locateMarker(marker, at);
}
// Markers are shared by text (the cache above: a lock repeats a few hundred markers thousands of
// times), so a marker cannot hold the place it was written. A located marker is a shallow copy of
// the shared one that this table maps to it and to its place; evaluation runs on the shared one
// and puts the place on its errors.
const located = new WeakMap();
/** `m` remembering where it was written: an error evaluating it names `at` (file, key path, line). */
function locateMarker(m, at) {
    const shared = located.get(m)?.shared ?? m;
    const copy = Object.freeze({ ...shared });
    located.set(copy, { shared, at });
    return copy;
}
/**
 * The marker that `m` is a located copy of, else `m`: the same for every occurrence of one marker
 * text, which is what caches of evaluation results should be keyed by.
 */
function sharedMarker(m) {
    return located.get(m)?.shared ?? m;
}
// ---------------------------------------------------------------------------------------------
// Evaluation
/** Variables packaging compares as PEP 440 versions when the other side is a valid specifier. */
const VERSION_VARIABLES = new Set([
    'implementation_version',
    'platform_release',
    'python_full_version',
    'python_version'
]);
function lookup(env, key, c) {
    if (key === 'extras' || key === 'dependency_groups')
        return env[key];
    if (key === 'python_full_version') {
        // packaging's `_repair_python_full_version` for untagged builds ("3.13.0+").
        const v = env.python_full_version;
        return v.endsWith('+') ? `${v}local` : v;
    }
    if (KNOWN.has(key) && key !== 'extra')
        return env[key];
    throw new MarkerEvaluationError(`cannot evaluate ${quoteSource(markerToString(c))}: a comparison needs a marker variable on one side`, {}, 'compare a marker variable with a quoted string, as in sys_platform == "linux"');
}
function undefinedComparison(c, lhs, rhs) {
    throw new MarkerEvaluationError(`cannot evaluate ${quoteSource(markerToString(c))}: ${c.op} compares versions, and ` +
        `${JSON.stringify(lhs)} ${c.op} ${JSON.stringify(rhs)} is not a version comparison`, {}, '~= and === apply to python_version, python_full_version, implementation_version and platform_release with a valid version');
}
/** packaging's `_eval_op`. */
function evalOp(lhs, op, rhs, key, c) {
    if (VERSION_VARIABLES.has(key)) {
        const spec = parseSpecifier(op + rhs);
        if (spec !== null)
            return specifierContains(spec, lhs);
    }
    switch (op) {
        case 'in':
            return rhs.includes(lhs);
        case 'not in':
            return !rhs.includes(lhs);
        case '<':
        case '>':
            return false;
        case '<=':
        case '==':
        case '>=':
            return lhs === rhs;
        case '!=':
            return lhs !== rhs;
        default:
            return undefinedComparison(c, lhs, rhs);
    }
}
function evalComparison(c, env) {
    const { left, op, right } = c;
    const envOnLeft = left.kind === 'variable';
    const key = envOnLeft ? left.name : valueText(right);
    if (key === 'extra') {
        const other = envOnLeft ? valueText(right) : valueText(left);
        const one = (extra) => envOnLeft ? evalOp(extra, op, other, key, c) : evalOp(other, op, extra, key, c);
        if (env.extras.size === 0)
            return one('');
        const negative = op === '!=' || op === 'not in';
        let result = negative;
        for (const extra of env.extras) {
            if (one(extra) !== negative)
                result = !negative;
        }
        return result;
    }
    const lhs = envOnLeft ? lookup(env, key, c) : valueText(left);
    const rhs = envOnLeft ? valueText(right) : lookup(env, key, c);
    if (typeof lhs !== 'string') {
        throw new MarkerEvaluationError(`cannot evaluate ${quoteSource(markerToString(c))}: ${key} is a set of names and can only be on the right`, {}, `write "name" in ${key}`);
    }
    if (typeof rhs === 'string')
        return evalOp(lhs, op, rhs, key, c);
    // A literal against the `extras` / `dependency_groups` set (PEP 751), names normalized.
    const name = canonicalizeExtra(lhs);
    switch (op) {
        case 'in':
            return rhs.has(name);
        case 'not in':
            return !rhs.has(name);
        case '!=':
            return true; // a string never equals a set
        case '~=':
        case '===':
            return undefinedComparison(c, lhs, key);
        default:
            return false;
    }
}
/**
 * Evaluates a marker as packaging 26.2 does (`Marker.evaluate(env, context="lock_file")` with
 * `extras`/`dependency_groups` sets), `extra` being evaluated against the set of active extras.
 * Every comparison is evaluated, as packaging does, so a comparison that packaging refuses
 * (`os_name ~= "x"`, `"a" == "b"`, `extras == "x"`, `python_version ~= "3"`) throws a
 * MarkerEvaluationError wherever it is, located where the marker was written when it was parsed
 * with a location.
 */
function evaluateMarker(m, env) {
    const place = located.get(m);
    if (place === undefined)
        return evaluate(m, env);
    try {
        return evaluate(place.shared, env);
    }
    catch (e) {
        throw e instanceof MarkerEvaluationError && e.location.file === undefined
            ? new MarkerEvaluationError(e.message, { ...place.at, ...definedOnly(e.location) }, e.hint)
            : e;
    }
}
function definedOnly(at) {
    return Object.fromEntries(Object.entries(at).filter(([, v]) => v !== undefined));
}
function evaluate(m, env) {
    switch (m.kind) {
        case 'compare':
            return evalComparison(m, env);
        case 'and': {
            let all = true;
            for (const item of m.items)
                all = evaluate(item, env) && all;
            return all;
        }
        case 'or': {
            let some = false;
            for (const item of m.items)
                some = evaluate(item, env) || some;
            return some;
        }
    }
}
// ---------------------------------------------------------------------------------------------
// Printing and helpers
const isControl = (code) => code < 0x20 || code === 0x7f;
/** A string literal that reads back to `value`: double quotes, escapes only where needed. */
function quote(value) {
    let plain = true;
    let single = true;
    for (let i = 0; i < value.length; i++) {
        const code = value.charCodeAt(i);
        if (code === 0x5c || isControl(code))
            plain = single = false;
        else if (code === 0x22)
            plain = false;
        else if (code === 0x27)
            single = false;
    }
    if (plain)
        return `"${value}"`;
    if (single)
        return `'${value}'`;
    let out = '';
    for (const ch of value) {
        const code = ch.charCodeAt(0);
        if (ch === '\\')
            out += '\\\\';
        else if (ch === '"' || isControl(code))
            out += `\\x${code.toString(16).padStart(2, '0')}`;
        else
            out += ch;
    }
    return `"${out}"`;
}
function printValue(v) {
    return v.kind === 'variable' ? v.name : quote(v.value);
}
/**
 * Canonical text: canonical variable names, double-quoted strings, single spaces, `and`/`or`
 * flattened, parentheses only around an `or` inside an `and`. Parsing it gives an equal tree.
 */
function markerToString(m) {
    switch (m.kind) {
        case 'compare':
            return `${printValue(m.left)} ${m.op} ${printValue(m.right)}`;
        case 'and':
            return m.items
                .map((i) => (i.kind === 'or' ? `(${markerToString(i)})` : markerToString(i)))
                .join(' and ');
        case 'or':
            return m.items.map(markerToString).join(' or ');
    }
}
/** The environment variables a marker reads (canonical names). */
function markerVariables(m) {
    const found = new Set();
    const walk = (n) => {
        if (n.kind !== 'compare') {
            n.items.forEach(walk);
        }
        else if (n.left.kind === 'variable') {
            found.add(n.left.name);
        }
        else {
            // With a string on the left, packaging reads the variable named by the right side.
            const key = valueText(n.right);
            if (KNOWN.has(key))
                found.add(key);
        }
    };
    walk(m);
    return found;
}
/** Both hold; `null` means "always" (no marker). */
function andMarkers(a, b) {
    if (a === null)
        return b;
    if (b === null)
        return a;
    return combine('and', [a, b]);
}

// PEP 503 normalized project names, as a type: once normalized, always normalized.
/** PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`. */
function normalizeName(name) {
    return name
        .trim()
        .toLowerCase()
        .replace(/[-_.]+/g, '-');
}
/** Extras and group names are normalized the same way (PEP 685, PEP 735). */
const normalizeExtra = normalizeName;
const normalizeGroup = normalizeName;
/** PEP 508 name syntax: letters/digits at both ends, `-_.` inside. */
function isValidName(name) {
    return /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i.test(name);
}

// What a deps image is built for: a Python interpreter and an OS/architecture pair.
function parsePythonVersion(text, where = 'python') {
    const m = /^\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$/.exec(text);
    if (!m) {
        throw new ConfigError(`${JSON.stringify(text)} is not a Python version`, { keyPath: where }, 'write it as "3.12" or "3.12.7"');
    }
    return { major: Number(m[1]), minor: Number(m[2]), patch: m[3] === undefined ? undefined : Number(m[3]) };
}
/** "3.12" — the value of the `python_version` marker. */
function pythonMinor(v) {
    return `${v.major}.${v.minor}`;
}
/**
 * "3.12.7" — the value of `python_full_version`. When only "3.12" was given we evaluate as
 * "3.12.0"; markers that split inside a minor series are rare, and the README says to give
 * the full version when they matter.
 */
function pythonFull(v) {
    return `${v.major}.${v.minor}.${v.patch ?? 0}`;
}
function formatPython(v) {
    return v.patch === undefined ? pythonMinor(v) : pythonFull(v);
}
const MACHINE = { amd64: 'x86_64', arm64: 'aarch64' };
/** The `platform_machine` marker value and the wheel platform-tag suffix for an architecture. */
function machineOf(p) {
    return MACHINE[p.architecture];
}
const SUPPORTED_PLATFORMS = ['linux/amd64', 'linux/arm64'];
function parsePlatform(text, where = 'platforms') {
    const t = text.trim().toLowerCase();
    const aliases = {
        'linux/amd64': 'amd64',
        'linux/x86_64': 'amd64',
        'linux/arm64': 'arm64',
        'linux/arm64/v8': 'arm64',
        'linux/aarch64': 'arm64'
    };
    const arch = aliases[t];
    if (!arch) {
        throw new ConfigError(`unsupported platform ${JSON.stringify(text)}`, { keyPath: where }, `use one of ${SUPPORTED_PLATFORMS.join(', ')}`);
    }
    return { os: 'linux', architecture: arch };
}
function formatPlatform(p) {
    return `${p.os}/${p.architecture}`;
}
/** Debian 12 (bookworm), what python:3.x-slim images and our test base image run. */
const DEFAULT_LIBC = { family: 'glibc', major: 2, minor: 36 };
function parseLibc(text, where = 'libc') {
    const m = /^\s*(glibc|musl)\s*[- ]?\s*(\d+)\.(\d+)\s*$/i.exec(text);
    if (!m) {
        throw new ConfigError(`${JSON.stringify(text)} is not a C library version`, { keyPath: where }, 'write it as "glibc 2.36" or "musl 1.2"');
    }
    return { family: m[1].toLowerCase(), major: Number(m[2]), minor: Number(m[3]) };
}
function formatLibc(l) {
    return `${l.family} ${l.major}.${l.minor}`;
}

// The values PEP 508 markers are evaluated against, for a container target or any platform.
/** Normalizes names (PEP 503/685/735) into a set. */
function nameSet(names = []) {
    const set = new Set();
    for (const n of names)
        set.add(normalizeName(n));
    return set;
}
/**
 * The environment of a Linux CPython container target. `platform_release` and
 * `platform_version` describe the kernel the image will run on, which is unknown when the image
 * is built: they are '' (what `platform.release()` returns when it cannot tell).
 */
function targetEnvironment(target, opts = {}) {
    const full = pythonFull(target.python);
    return Object.freeze({
        implementation_name: 'cpython',
        implementation_version: full,
        os_name: 'posix',
        platform_machine: machineOf(target.platform),
        platform_release: '',
        platform_system: 'Linux',
        platform_version: '',
        python_full_version: full,
        platform_python_implementation: 'CPython',
        python_version: pythonMinor(target.python),
        sys_platform: 'linux',
        extras: nameSet(opts.extras),
        dependency_groups: nameSet(opts.groups)
    });
}

function parseExtras(tz) {
    const open = tz.position;
    if (tz.take('LEFT_BRACKET') === null)
        return [];
    tz.ws();
    const extras = [];
    const first = tz.take('IDENTIFIER');
    if (first !== null) {
        extras.push(first);
        for (;;) {
            tz.ws();
            if (tz.peek('IDENTIFIER') !== null)
                tz.fail('expected a comma between extra names');
            if (tz.take('COMMA') === null)
                break;
            tz.ws();
            const next = tz.take('IDENTIFIER');
            if (next === null)
                tz.fail("expected an extra name after ','");
            extras.push(next);
        }
    }
    tz.ws();
    if (tz.take('RIGHT_BRACKET') === null)
        tz.fail(`expected ']' to close the '[' opened at column ${tz.column(open)}`);
    return extras;
}
/** `version_many`, optionally in parentheses; returns the raw text as packaging does. */
function parseSpecifierText(tz) {
    const open = tz.position;
    const paren = tz.take('LEFT_PARENTHESIS') !== null;
    tz.ws();
    let text = '';
    for (let spec = tz.take('SPECIFIER'); spec !== null; spec = tz.take('SPECIFIER')) {
        text += spec;
        if (tz.peek('VERSION_PREFIX_TRAIL') !== null) {
            tz.fail("'.*' can only follow == or !=", tz.position, 'write ==X.* or !=X.* for prefix matching');
        }
        if (tz.peek('VERSION_LOCAL_LABEL_TRAIL') !== null) {
            tz.fail('a local version label (+...) can only follow == or !=');
        }
        tz.ws();
        if (tz.take('COMMA') === null)
            break;
        text += ',';
        tz.ws();
    }
    tz.ws();
    if (paren && tz.take('RIGHT_PARENTHESIS') === null) {
        tz.fail(`expected ')' to close the '(' opened at column ${tz.column(open)}`);
    }
    return text;
}
function parseRequirementMarker(tz, expected) {
    if (tz.take('SEMICOLON') === null)
        tz.fail(`expected ${expected} or the end of the requirement`);
    const marker = parseMarkerExpression(tz);
    tz.ws();
    return marker;
}
function normalizeSpecifiers(tz, text, start) {
    // packaging's SpecifierSet(text): split on commas, strip, drop empty parts.
    const parts = [];
    for (const raw of text.split(',')) {
        const part = pyStrip(raw);
        if (part === '')
            continue;
        const spec = parseSpecifier(part);
        if (spec === null)
            tz.fail(`invalid version specifier '${part}'`, start);
        parts.push(specifierToString(spec));
    }
    return parts.join(',');
}
const CACHE_LIMIT = 10_000;
const cache = new Map();
/**
 * Parses a PEP 508 requirement. Errors are MarkerSyntaxErrors with the 1-based column of the
 * offending character, merged into `at`; with `at`, its marker also names it when evaluating
 * it fails (see locateMarker).
 */
function parseRequirement(text, at) {
    const req = cache.get(text) ?? parseUncached(text, at);
    return at === undefined || req.marker === null
        ? req
        : Object.freeze({ ...req, marker: locateMarker(req.marker, at) });
}
function parseUncached(text, at) {
    const tz = new Tokenizer(text, at);
    tz.ws();
    const displayName = tz.take('IDENTIFIER');
    if (displayName === null)
        tz.fail('expected a package name at the start of the requirement');
    tz.ws();
    const extras = parseExtras(tz);
    tz.ws();
    let rawSpecifier = '';
    let specifierStart = 0;
    let url = null;
    let marker = null;
    if (tz.take('AT') !== null) {
        tz.ws();
        url = tz.take('URL');
        if (url === null)
            tz.fail("expected a URL after '@'");
        if (!tz.atEnd()) {
            if (tz.take('WS') === null)
                tz.fail('expected whitespace after the URL');
            if (!tz.atEnd())
                marker = parseRequirementMarker(tz, "';' (after the URL and a space)");
        }
    }
    else {
        specifierStart = tz.position;
        rawSpecifier = parseSpecifierText(tz);
        tz.ws();
        if (!tz.atEnd()) {
            marker = parseRequirementMarker(tz, rawSpecifier ? "',' (within the version specifier), ';' (before a marker)" : "';' (before a marker)");
        }
    }
    if (!tz.atEnd())
        tz.fail("expected 'and', 'or' or the end of the requirement");
    const specifier = normalizeSpecifiers(tz, rawSpecifier, specifierStart);
    const req = Object.freeze({
        name: normalizeName(displayName),
        displayName,
        extras: Object.freeze([...new Set(extras.map(normalizeName))].sort()),
        specifier,
        url,
        marker
    });
    if (cache.size >= CACHE_LIMIT)
        cache.clear();
    cache.set(text, req);
    return req;
}
/** `name[extras]specifier`, ` @ url`, `; marker`, spaced as packaging prints requirements. */
function formatRequirement(r) {
    let s = r.displayName;
    if (r.extras.length > 0)
        s += `[${r.extras.join(',')}]`;
    s += r.specifier;
    if (r.url !== null)
        s += ` @ ${r.url}`;
    if (r.marker !== null)
        s += `${r.url !== null ? ' ' : ''}; ${markerToString(r.marker)}`;
    return s;
}

// Credentials for package indexes (private PyPI mirrors, Artifactory, CodeArtifact, GitLab, …),
// found where the tools people already use put them, and kept out of every message:
//
//   1. an explicit credential in the index configuration
//   2. `user:password@` in the index URL (stripped from the URL before it is used or shown)
//   3. environment variables for a named source (NAME = the source name upper-cased, every
//      character that is not a letter or digit as `_`), the first convention that is set:
//        FAST_BUILD_INDEX_<NAME>_USERNAME / _PASSWORD   (ours)
//        POETRY_HTTP_BASIC_<NAME>_USERNAME / _PASSWORD  (Poetry)
//        UV_INDEX_<NAME>_USERNAME / _PASSWORD           (uv)
//   4. ~/.netrc (or the file `NETRC` names): `machine <host> login … password …`, else `default`
//
// A URL that names a user but no password (`https://__token__@host/simple`) takes its password
// from the first of 3–4 that has an entry for that user. Parsing is pure; `resolveIndexCredential`
// is the one function that reads the environment and the netrc file.
/** What a credential is, for messages. */
function describeIndexCredential(c) {
    return `user ${JSON.stringify(c.username)} from ${c.source}`;
}
/**
 * A URL as it may appear in a message or a log: no userinfo, no query (signed download URLs
 * carry tokens there), no fragment. Text that does not parse as a URL still loses `…@` and `?…`.
 */
function redactUrl(url) {
    try {
        const u = new URL(url);
        const hadQuery = u.search !== '';
        u.username = '';
        u.password = '';
        u.search = '';
        u.hash = '';
        return `${u.href}${hadQuery ? '?…' : ''}`;
    }
    catch {
        const noUser = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
        const q = noUser.search(/[?#]/);
        return q === -1 ? noUser : `${noUser.slice(0, q)}${noUser[q] === '?' ? '?…' : ''}`;
    }
}
/**
 * The URL without its userinfo, and the userinfo (percent-decoded) when there is one: written in
 * the URL, or, for a URL a lock reader took it out of, kept aside (see keepUserinfo).
 */
function splitUserinfo(url) {
    let u;
    try {
        u = new URL(url);
    }
    catch {
        return { url, username: null, password: null };
    }
    if (u.username === '' && u.password === '') {
        const k = kept.size > 0 ? kept.get(keptKey(u)) : undefined;
        return k ? { url, username: k.username, password: k.password } : { url, username: null, password: null };
    }
    const decode = (s) => {
        try {
            return decodeURIComponent(s);
        }
        catch {
            return s;
        }
    };
    const username = decode(u.username);
    const password = u.password === '' && !/^[^/]*\/\/[^/@]*:[^/@]*@/.test(url) ? null : decode(u.password);
    u.username = '';
    u.password = '';
    return { url: u.href, username, password };
}
// --- userinfo kept out of the lock model ----------------------------------------------------------
//
// A lock may write a credential into a URL (`https://user:pass@host/simple` as an index or file
// URL, `https://x-access-token:…@github.com/…` as a git source). The lock model keeps URLs
// without it, so nothing that prints, hashes, labels or writes a URL can show it, and rotating a
// password does not change a hash. The credential is kept here, by the URL without it, for the
// one place that needs it: the request (splitUserinfo, and so resolveIndexCredential and the
// fetch code, find it again from the model's URL).
const kept = new Map();
/** The kept-credential key of a parsed URL: no userinfo, no trailing slash. */
function keptKey(u) {
    const c = new URL(u.href);
    c.username = '';
    c.password = '';
    return c.href.replace(/\/+$/, '');
}
function isHttp(protocol) {
    return /^(?:git\+)?https?:$/.test(protocol);
}
/**
 * `url` as it may be shown, hashed or written anywhere: without userinfo. An http(s) URL loses any
 * userinfo (a token may be the user name: `https://<token>@github.com/…`); another scheme loses a
 * password but keeps its user (`ssh://git@github.com/…` names an account, not a secret). Text
 * that is no URL loses `user:password@` after its scheme. Cheap for URLs without `@`.
 */
function withoutUserinfo(url) {
    if (!url.includes('@'))
        return url;
    let u;
    try {
        u = new URL(url);
    }
    catch {
        return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
    }
    if (u.username === '' && u.password === '')
        return url;
    if (!isHttp(u.protocol) && u.password === '')
        return url;
    if (isHttp(u.protocol))
        u.username = '';
    u.password = '';
    return u.href;
}
/**
 * For lock readers: `url` without userinfo (as withoutUserinfo), the userinfo kept aside for
 * requests to exactly that URL (splitUserinfo returns it). Later locks replace earlier entries.
 */
function keepUserinfo(url) {
    const stripped = withoutUserinfo(url);
    if (stripped === url)
        return url;
    const split = splitUserinfo(url);
    if (split.username !== null) {
        try {
            kept.set(keptKey(new URL(split.url)), { username: split.username, password: split.password });
        }
        catch {
            // Not a URL after all: nothing to request with it.
        }
    }
    return stripped;
}
/** `my-repo.eu` → `MY_REPO_EU`: how every tool spells a source name in environment variables. */
function envSourceName(name) {
    return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}
/** The environment variable prefixes we read, in order of precedence. */
const ENV_CONVENTIONS = ['FAST_BUILD_INDEX_', 'POETRY_HTTP_BASIC_', 'UV_INDEX_'];
/** The variables that would give a credential for a named source, for hints. */
function credentialEnvNames(sourceName) {
    const n = envSourceName(sourceName);
    return ENV_CONVENTIONS.map((p) => `${p}${n}_USERNAME/_PASSWORD`);
}
/**
 * The credential for a named source from environment variables: the first convention (see
 * ENV_CONVENTIONS) with a username or a password set. A missing half is the empty string (tokens
 * are often given as a password alone).
 */
function credentialFromEnv(sourceName, env) {
    const n = envSourceName(sourceName);
    if (n === '')
        return null;
    for (const prefix of ENV_CONVENTIONS) {
        const user = env[`${prefix}${n}_USERNAME`];
        const pass = env[`${prefix}${n}_PASSWORD`];
        if (user || pass) {
            return { username: user ?? '', password: pass ?? '', source: `${prefix}${n}_USERNAME/_PASSWORD` };
        }
    }
    return null;
}
/**
 * Parse a netrc file as curl and Python's netrc do: whitespace-separated tokens (double quotes
 * group, backslash escapes inside quotes), `#` comments, `machine`/`default` start an entry,
 * `login`/`password`/`account` set its fields, `macdef` bodies run to the next blank line.
 */
function parseNetrc(text) {
    const tokens = tokenizeNetrc(text);
    const entries = [];
    let current = null;
    const flush = () => {
        if (current)
            entries.push({ ...current });
        current = null;
    };
    for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i];
        if (t.kind === 'macdef') {
            flush();
            continue;
        }
        switch (t.value) {
            case 'machine':
                flush();
                current = { machine: (tokens[++i]?.value ?? '').toLowerCase(), login: null, password: null };
                break;
            case 'default':
                flush();
                current = { machine: null, login: null, password: null };
                break;
            case 'login':
                if (current)
                    current.login = tokens[++i]?.value ?? null;
                else
                    i++;
                break;
            case 'password':
                if (current)
                    current.password = tokens[++i]?.value ?? null;
                else
                    i++;
                break;
            case 'account':
                i++;
                break;
        }
    }
    flush();
    return entries;
}
function tokenizeNetrc(text) {
    const out = [];
    let i = 0;
    const n = text.length;
    while (i < n) {
        const c = text[i];
        if (/\s/.test(c)) {
            i++;
            continue;
        }
        if (c === '#') {
            while (i < n && text[i] !== '\n')
                i++;
            continue;
        }
        let value = '';
        if (c === '"') {
            i++;
            while (i < n && text[i] !== '"') {
                if (text[i] === '\\' && i + 1 < n)
                    i++;
                value += text[i];
                i++;
            }
            i++;
        }
        else {
            while (i < n && !/\s/.test(text[i])) {
                if (text[i] === '\\' && i + 1 < n)
                    i++;
                value += text[i];
                i++;
            }
        }
        if (value === 'macdef') {
            // The macro's name, then its body up to an empty line.
            const end = text.indexOf('\n\n', i);
            i = end === -1 ? n : end + 2;
            out.push({ kind: 'macdef', value });
            continue;
        }
        out.push({ kind: 'word', value });
    }
    return out;
}
/** The netrc entry for `host` (the first `machine` that names it, else `default`), optionally for one login. */
function netrcCredential(entries, host, login = null) {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    const fits = (e) => e.password !== null && (login === null || e.login === login);
    const match = entries.find((e) => e.machine === h && fits(e)) ?? entries.find((e) => e.machine === null && fits(e));
    if (!match)
        return null;
    return { username: match.login ?? '', password: match.password ?? '' };
}
function netrcPath(env, home = homedir()) {
    return env['NETRC'] || join(home, '.netrc');
}
function readNetrcFile(path) {
    try {
        return readFileSync(path, 'utf8');
    }
    catch {
        // Missing or unreadable: no credentials from it (as pip and uv behave).
        return null;
    }
}
/**
 * The index URL without userinfo, and the credential for it (see the order at the top of this
 * file). The edge of this module: reads the environment and the netrc file.
 */
function resolveIndexCredential(config, lookup = {}) {
    const split = splitUserinfo(config.url);
    const url = split.url;
    if (config.credential) {
        const source = 'source' in config.credential ? String(config.credential.source) : 'the index configuration';
        return {
            url,
            credential: { username: config.credential.username, password: config.credential.password, source }
        };
    }
    if (split.username !== null && split.password !== null) {
        return {
            url,
            credential: { username: split.username, password: split.password, source: 'the index URL' }
        };
    }
    // `credential: null` means "already looked up: none" (see indexConfigFor).
    if (config.credential === null) {
        return {
            url,
            credential: split.username !== null ? { username: split.username, password: '', source: 'the index URL' } : null
        };
    }
    const env = lookup.env ?? process.env;
    let host = null;
    try {
        const u = new URL(url);
        if (u.protocol === 'http:' || u.protocol === 'https:')
            host = u.hostname;
    }
    catch {
        host = null;
    }
    const fromEnv = config.name ? credentialFromEnv(config.name, env) : null;
    const wantUser = split.username;
    if (fromEnv && (wantUser === null || fromEnv.username === wantUser))
        return { url, credential: fromEnv };
    if (host !== null) {
        const path = netrcPath(env, lookup.home);
        const text = (lookup.readNetrc ?? readNetrcFile)(path);
        if (text !== null) {
            const c = netrcCredential(parseNetrc(text), host, wantUser);
            if (c)
                return { url, credential: { ...c, source: path.replace(lookup.home ?? homedir(), '~') } };
        }
    }
    if (wantUser !== null) {
        return { url, credential: { username: wantUser, password: '', source: 'the index URL' } };
    }
    return { url, credential: null };
}
/**
 * An index configuration with its credential looked up now (in `env` and the netrc file), for a
 * lock's registry source or a mirror: the URL loses its userinfo, `credential` is the one found
 * (with its source, for messages) or null, which tells PackageIndex not to look again.
 */
function indexConfigFor(url, name, env = process.env, lookup = {}) {
    const resolved = resolveIndexCredential({ url, name }, { ...lookup, env });
    return { url: resolved.url, name, credential: resolved.credential };
}
/** `Authorization` header value for a basic credential. */
function basicAuthorization(c) {
    return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

// [tool.fast-build] → typed configuration, with defaults and key-path errors.
const BUILDERS = ['auto', 'wheels', 'dockerfile'];
const KNOWN_KEYS = [
    'image',
    'base-image',
    'python',
    'platforms',
    'libc',
    'runtime-groups',
    'workdir',
    'env',
    'entrypoint',
    'cmd',
    'lock',
    'variants',
    'python-prefix',
    'site-packages',
    'interpreter',
    'max-layers',
    'heavy-package-mb',
    'compression',
    'index-url',
    'builder',
    'dockerfile',
    'dockerfile-target',
    'build-args',
    'dockerfile-command',
    'python-in-base'
];
const VARIANT_KEYS = ['groups', 'extras', 'members'];
/** Layer compressions a configuration may ask for (OCI's tar+gzip and tar+zstd media types). */
const COMPRESSIONS = ['gzip', 'zstd'];
/**
 * Packages installing more than this many MB get a layer each, so bumping one never re-uploads
 * another. 16, from the corpus (npm run bench -- reupload): at 64 numpy, pandas and scipy-sized
 * packages shared buckets (a bump's 90th percentile re-upload 29–31 MB on the lerobot and
 * private-gpt locks), at 16 they stand alone (13 MB), and 8 changes nothing more.
 */
const DEFAULT_HEAVY_MB = 16;
/** Variant names end up in registry tags (`deps-<variant>-<hash>`), so they must be tag-safe. */
const VARIANT_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const DEFAULT_VARIANT = {
    name: 'default',
    groups: ['main'],
    extras: [],
    members: []
};
function readConfig(pyproject, file) {
    const r = new TomlReader(file, ConfigError);
    const tool = pyproject['tool'];
    const raw = isTable(tool) && tool['fast-build'] !== undefined ? r.table(tool['fast-build'], 'tool.fast-build') : {};
    const base = 'tool.fast-build';
    for (const key of Object.keys(raw)) {
        if (!KNOWN_KEYS.includes(key)) {
            r.fail(`${base}.${key}`, `unknown setting`, `known settings are: ${KNOWN_KEYS.join(', ')}`);
        }
    }
    const pythonText = r.optString(raw['python'], `${base}.python`);
    const platformTexts = r.optStrings(raw['platforms'], `${base}.platforms`) ?? ['linux/amd64'];
    if (platformTexts.length === 0)
        r.fail(`${base}.platforms`, 'no platforms given', 'list at least one, e.g. ["linux/amd64"]');
    const platforms = platformTexts.map((p, i) => withFile(file, () => parsePlatform(p, `${base}.platforms[${i}]`)));
    const seen = new Set();
    for (const [i, p] of platforms.entries()) {
        const key = `${p.os}/${p.architecture}`;
        if (seen.has(key))
            r.fail(`${base}.platforms[${i}]`, `platform ${key} is listed twice`);
        seen.add(key);
    }
    const libcText = r.optString(raw['libc'], `${base}.libc`);
    const workdir = readWorkdir(r, raw['workdir'], `${base}.workdir`);
    const envTable = r.optTable(raw['env'], `${base}.env`) ?? {};
    const env = {};
    for (const [k, v] of Object.entries(envTable))
        env[k] = r.string(v, `${base}.env.${k}`);
    const variantsRaw = r.optTable(raw['variants'], `${base}.variants`);
    let variants;
    if (variantsRaw === undefined) {
        variants = [DEFAULT_VARIANT];
    }
    else {
        variants = Object.entries(variantsRaw).map(([name, v]) => readVariant(r, name, v, `${base}.variants.${name}`));
        if (variants.length === 0)
            r.fail(`${base}.variants`, 'no variants defined', 'define at least one, e.g. base = { groups = ["main"] }');
    }
    const runtimeGroups = (r.optStrings(raw['runtime-groups'], `${base}.runtime-groups`) ?? []).map(normalizeGroup);
    for (const v of variants) {
        const clash = v.groups.find((g) => runtimeGroups.includes(g));
        if (clash) {
            r.fail(`${base}.variants.${v.name}.groups`, `group ${JSON.stringify(clash)} is also a runtime group`, 'a runtime group is installed when the container starts; remove it from the variant or from runtime-groups');
        }
    }
    const builderText = r.optString(raw['builder'], `${base}.builder`) ?? 'auto';
    if (!BUILDERS.includes(builderText))
        r.fail(`${base}.builder`, `unknown builder ${JSON.stringify(builderText)}`, `use one of ${BUILDERS.join(', ')}`);
    const builder = builderText;
    const compressionText = r.optString(raw['compression'], `${base}.compression`) ?? 'gzip';
    if (!COMPRESSIONS.includes(compressionText))
        r.fail(`${base}.compression`, `unknown compression ${JSON.stringify(compressionText)}`, `use one of ${COMPRESSIONS.join(', ')} (zstd layers need containerd 1.5+, Docker 23+ or podman 4+ to pull)`);
    const buildArgsTable = r.optTable(raw['build-args'], `${base}.build-args`) ?? {};
    const buildArgs = {};
    for (const [k, v] of Object.entries(buildArgsTable))
        buildArgs[k] = r.string(v, `${base}.build-args.${k}`);
    const commandText = r.optString(raw['dockerfile-command'], `${base}.dockerfile-command`);
    const commandWords = (commandText ?? '').split(/\s+/).filter((w) => w !== '');
    if (commandText !== undefined && commandWords.length === 0)
        r.fail(`${base}.dockerfile-command`, 'empty command', 'e.g. "docker buildx build" or "buildah bud"');
    return {
        image: r.optString(raw['image'], `${base}.image`) ?? null,
        baseImage: r.optString(raw['base-image'], `${base}.base-image`) ?? null,
        python: pythonText === undefined
            ? null
            : withFile(file, () => parsePythonVersion(pythonText, `${base}.python`)),
        platforms,
        libc: libcText === undefined ? DEFAULT_LIBC : withFile(file, () => parseLibc(libcText, `${base}.libc`)),
        runtimeGroups,
        workdir,
        env,
        entrypoint: r.optStrings(raw['entrypoint'], `${base}.entrypoint`) ?? null,
        cmd: r.optStrings(raw['cmd'], `${base}.cmd`) ?? null,
        lock: r.optString(raw['lock'], `${base}.lock`) ?? null,
        pythonPrefix: absolutePath(r, raw['python-prefix'], `${base}.python-prefix`) ?? '/usr/local',
        pythonPrefixExplicit: raw['python-prefix'] !== undefined,
        pythonInBase: optBoolean(r, raw['python-in-base'], `${base}.python-in-base`) ?? true,
        sitePackages: absolutePath(r, raw['site-packages'], `${base}.site-packages`),
        interpreter: absolutePath(r, raw['interpreter'], `${base}.interpreter`),
        maxLayers: positiveInt(r, raw['max-layers'], `${base}.max-layers`, 100, 2, 500),
        heavyPackageMb: positiveInt(r, raw['heavy-package-mb'], `${base}.heavy-package-mb`, DEFAULT_HEAVY_MB, 1, 1_000_000),
        compression: compressionText,
        indexUrl: r.optString(raw['index-url'], `${base}.index-url`) ?? null,
        variants,
        defaultVariant: variantsRaw === undefined,
        builder,
        dockerfile: {
            path: r.optString(raw['dockerfile'], `${base}.dockerfile`) ?? null,
            target: r.optString(raw['dockerfile-target'], `${base}.dockerfile-target`) ?? null,
            buildArgs,
            command: commandText === undefined ? null : commandWords
        }
    };
}
function readVariant(r, name, v, keyPath) {
    if (!VARIANT_NAME.test(name)) {
        r.fail(keyPath, `variant name ${JSON.stringify(name)} cannot be used in an image tag`, 'use lowercase letters, digits, ".", "_" and "-" (at most 64), starting with a letter or digit');
    }
    const t = r.table(v, keyPath);
    for (const key of Object.keys(t)) {
        if (!VARIANT_KEYS.includes(key))
            r.fail(`${keyPath}.${key}`, 'unknown variant setting', `known: ${VARIANT_KEYS.join(', ')}`);
    }
    const groups = (r.optStrings(t['groups'], `${keyPath}.groups`) ?? ['main']).map(normalizeGroup);
    return {
        name,
        groups: [...new Set(groups)],
        extras: [...new Set((r.optStrings(t['extras'], `${keyPath}.extras`) ?? []).map(normalizeGroup))],
        members: [...new Set((r.optStrings(t['members'], `${keyPath}.members`) ?? []).map(normalizeGroup))]
    };
}
/**
 * Where the source goes in the image: an absolute path below `/`, normalized (`/app/./src/` is
 * `/app/src`). `..` is refused rather than resolved: `/app/../..` would put the source at the
 * image root, over the base image's own files, and `/` itself would too.
 */
function readWorkdir(r, v, keyPath) {
    const written = r.optString(v, keyPath) ?? '/app';
    const fix = 'use a directory of its own, such as "/app"';
    if (!written.startsWith('/'))
        r.fail(keyPath, `workdir must be an absolute path, got ${JSON.stringify(written)}`, fix);
    if (written.split('/').includes('..'))
        r.fail(keyPath, `workdir must not contain '..' segments, got ${JSON.stringify(written)}`, fix);
    const normalized = posix.normalize(written).replace(/\/+$/, '');
    if (normalized === '' || normalized === '/')
        r.fail(keyPath, `workdir must be a directory below /, got ${JSON.stringify(written)}`, fix);
    return normalized;
}
function absolutePath(r, v, keyPath) {
    const s = r.optString(v, keyPath);
    if (s === undefined)
        return null;
    if (!s.startsWith('/') || s.split('/').includes('..'))
        r.fail(keyPath, `expected an absolute path in the image, got ${JSON.stringify(s)}`);
    return s.replace(/\/+$/, '') || '/';
}
function optBoolean(r, v, keyPath) {
    if (v === undefined)
        return undefined;
    if (typeof v !== 'boolean')
        r.fail(keyPath, `expected true or false, got ${JSON.stringify(String(v))}`);
    return v;
}
function positiveInt(r, v, keyPath, dflt, min, max) {
    if (v === undefined)
        return dflt;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        r.fail(keyPath, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(String(v))}`);
    }
    return n;
}
/** Errors thrown by target parsers carry only a key path; add the file. */
function withFile(file, f) {
    try {
        return f();
    }
    catch (e) {
        if (e instanceof ConfigError && !e.location.file)
            throw new ConfigError(e.message, { ...e.location, file }, e.hint);
        throw e;
    }
}

// pyproject.toml → the project model: who the project is, its groups and extras as edges.
// Poetry ([tool.poetry] dependencies, groups, dev-dependencies, extras), PEP 621 ([project]
// dependencies, optional-dependencies), PEP 735 ([dependency-groups] with include-group) and
// uv ([tool.uv] dev-dependencies, workspace, sources) all land in the same shape.
const MAIN = 'main';
/** Read `<dir>/pyproject.toml`. `display` is how to name the directory in messages. */
function readProject(dir, display) {
    const path = join(dir, 'pyproject.toml');
    const file = display ? join(display, 'pyproject.toml') : relative(process.cwd(), path) || path;
    const { text, data } = readTomlFile(path, file, ConfigError, 'run fast-build from the project directory or pass --project DIR');
    return projectFromToml(dir, file, text, data);
}
function projectFromToml(dir, file, text, data) {
    const r = new TomlReader(file, ConfigError);
    const project = r.optTable(data['project'], 'project');
    const tool = r.optTable(data['tool'], 'tool');
    const poetry = tool ? r.optTable(tool['poetry'], 'tool.poetry') : undefined;
    const uv = tool ? r.optTable(tool['uv'], 'tool.uv') : undefined;
    const nameText = r.optString(project?.['name'], 'project.name') ?? r.optString(poetry?.['name'], 'tool.poetry.name');
    const groups = new Map();
    const extras = new Map();
    // --- main dependencies -------------------------------------------------------------------
    const poetryDeps = poetry?.['dependencies'] !== undefined
        ? readPoetryDependencyTable(r, poetry['dependencies'], 'tool.poetry.dependencies')
        : [];
    const pep621Deps = project?.['dependencies'] !== undefined
        ? readRequirementList(r, project['dependencies'], 'project.dependencies')
        : null;
    let main;
    if (pep621Deps) {
        // Poetry 2: [project] is the truth; [tool.poetry.dependencies] only adds sources and the like.
        const enrich = new Map(poetryDeps.map((d) => [d.edge.name, d.edge]));
        main = pep621Deps.map((e) => {
            const extra = enrich.get(e.name);
            return extra ? { ...e, sourceName: extra.sourceName, direct: e.direct ?? extra.direct } : e;
        });
    }
    else {
        main = poetryDeps.filter((d) => !d.optional).map((d) => d.edge);
    }
    groups.set(MAIN, main);
    // --- extras ---------------------------------------------------------------------------------
    const optional = r.optTable(project?.['optional-dependencies'], 'project.optional-dependencies');
    if (optional) {
        for (const [extra, list] of Object.entries(optional)) {
            extras.set(normalizeGroup(extra), readRequirementList(r, list, `project.optional-dependencies.${extra}`));
        }
    }
    const poetryExtras = r.optTable(poetry?.['extras'], 'tool.poetry.extras');
    if (poetryExtras && !optional) {
        for (const [extra, names] of Object.entries(poetryExtras)) {
            const keyPath = `tool.poetry.extras.${extra}`;
            const edges = [];
            for (const [i, n] of r.strings(names, keyPath).entries()) {
                const name = normalizeName(n.replace(/\[.*$/, ''));
                // Usually optional dependencies; Poetry also accepts naming a required one.
                const found = poetryDeps.filter((d) => d.edge.name === name);
                if (found.length === 0) {
                    r.fail(`${keyPath}[${i}]`, `extra ${JSON.stringify(extra)} names ${JSON.stringify(n)}, which is not a dependency`, `declare it in [tool.poetry.dependencies] with optional = true`);
                }
                edges.push(...found.map((d) => d.edge));
            }
            extras.set(normalizeGroup(extra), edges);
        }
    }
    // --- groups -----------------------------------------------------------------------------------
    const addGroup = (name, edges) => {
        const g = normalizeGroup(name);
        groups.set(g, [...(groups.get(g) ?? []), ...edges]);
    };
    if (poetry?.['dev-dependencies'] !== undefined) {
        addGroup('dev', readPoetryDependencyTable(r, poetry['dev-dependencies'], 'tool.poetry.dev-dependencies').map((d) => d.edge));
    }
    const poetryGroups = r.optTable(poetry?.['group'], 'tool.poetry.group');
    if (poetryGroups) {
        for (const [g, body] of Object.entries(poetryGroups)) {
            const t = r.table(body, `tool.poetry.group.${g}`);
            addGroup(g, readPoetryDependencyTable(r, t['dependencies'] ?? {}, `tool.poetry.group.${g}.dependencies`).map((d) => d.edge));
        }
    }
    const depGroups = r.optTable(data['dependency-groups'], 'dependency-groups');
    if (depGroups) {
        for (const [g, edges] of resolveDependencyGroups(r, depGroups))
            addGroup(g, edges);
    }
    if (uv?.['dev-dependencies'] !== undefined) {
        addGroup('dev', readRequirementList(r, uv['dev-dependencies'], 'tool.uv.dev-dependencies'));
    }
    const sources = (poetry?.['source'] !== undefined ? r.tables(poetry['source'], 'tool.poetry.source') : []).map((s, i) => ({
        name: r.string(s['name'], `tool.poetry.source[${i}].name`),
        url: r.optString(s['url'], `tool.poetry.source[${i}].url`) ?? null,
        priority: r.optString(s['priority'], `tool.poetry.source[${i}].priority`) ?? null
    }));
    const ws = uv ? r.optTable(uv['workspace'], 'tool.uv.workspace') : undefined;
    const pep621Python = r.optString(project?.['requires-python'], 'project.requires-python');
    const poetryPython = isTable(poetry?.['dependencies']) ? pythonOfPoetry(r, poetry['dependencies']) : null;
    const requiresPython = pep621Python ?? poetryPython;
    const pythonConstraint = pep621Python
        ? pep440Matcher(pep621Python)
        : poetryPython
            ? poetryMatcher(poetryPython)
            : null;
    const uvSourced = new Set();
    for (const [n, src] of Object.entries(r.optTable(uv?.['sources'], 'tool.uv.sources') ?? {})) {
        const entries = Array.isArray(src) ? src : [src];
        if (entries.some((e) => isTable(e) && ['path', 'git', 'url', 'workspace', 'editable'].some((k) => k in e)))
            uvSourced.add(normalizeName(n));
    }
    return {
        dir,
        file,
        text,
        data,
        name: nameText ? normalizeName(nameText) : null,
        requiresPython,
        pythonConstraint,
        uvSourced,
        groups,
        extras,
        usesPoetry: poetry !== undefined && (poetry['dependencies'] !== undefined || poetry['group'] !== undefined),
        poetrySources: sources,
        uvWorkspace: ws
            ? {
                members: r.optStrings(ws['members'], 'tool.uv.workspace.members') ?? [],
                exclude: r.optStrings(ws['exclude'], 'tool.uv.workspace.exclude') ?? []
            }
            : null,
        config: readConfig(data, file)
    };
}
function pythonOfPoetry(r, deps) {
    const p = deps['python'];
    if (p === undefined)
        return null;
    return r.string(p, 'tool.poetry.dependencies.python');
}
/** PEP 508 strings → edges. */
function readRequirementList(r, list, keyPath) {
    return r.strings(list, keyPath).map((text, i) => requirementEdge(text, r.file, `${keyPath}[${i}]`));
}
function requirementEdge(text, file, keyPath) {
    const req = parseRequirement(text, { file, keyPath });
    return {
        name: req.name,
        extras: req.extras,
        marker: req.marker,
        version: pep440Matcher(req.specifier),
        pinVersion: null,
        pinSource: null,
        sourceName: null,
        direct: req.url ? directFromUrl(req.url) : null
    };
}
/**
 * `git+https://host/repo.git@rev#subdirectory=x`, `https://…/x.whl`, `file:///…` → a direct
 * reference, its URL without userinfo (as the lock model keeps the package's, which it is matched to).
 */
function directFromUrl(written) {
    const url = written.startsWith('file:') ? written : withoutUserinfo(written);
    if (url.startsWith('git+')) {
        const [base, fragment] = url.slice(4).split('#', 2);
        const sub = fragment ? (/(?:^|&)subdirectory=([^&]+)/.exec(fragment)?.[1] ?? null) : null;
        return { kind: 'git', url: stripGitRev(base), subdirectory: sub };
    }
    if (url.startsWith('file:'))
        return { kind: 'path', path: decodeURIComponent(url.replace(/^file:(\/\/)?/, '')) };
    return { kind: 'url', url };
}
/** `https://host/repo.git@v1.2` → `https://host/repo.git` (the rev is in the lock's commit). */
function stripGitRev(url) {
    const at = url.lastIndexOf('@');
    const slash = url.lastIndexOf('/');
    // An @ after the last slash is a revision; one before it is user@host.
    return at > slash ? url.slice(0, at) : url;
}
/** [tool.poetry.dependencies]-style table → edges (one per constraint; lists give several). */
function readPoetryDependencyTable(r, value, keyPath) {
    const table = r.table(value, keyPath);
    const out = [];
    for (const [rawName, spec] of Object.entries(table)) {
        if (rawName.toLowerCase() === 'python')
            continue;
        const name = normalizeName(rawName);
        const specs = Array.isArray(spec) ? spec : [spec];
        specs.forEach((s, i) => {
            const kp = Array.isArray(spec) ? `${keyPath}.${rawName}[${i}]` : `${keyPath}.${rawName}`;
            out.push(poetryDependency(r, name, s, kp));
        });
    }
    return out;
}
function poetryDependency(r, name, spec, keyPath) {
    if (typeof spec === 'string') {
        return { edge: edge(name, [], null, poetryMatcher(spec)), optional: false };
    }
    const t = r.table(spec, keyPath);
    const markerParts = [];
    const markers = r.optString(t['markers'], `${keyPath}.markers`);
    if (markers)
        markerParts.push(markers);
    const python = r.optString(t['python'], `${keyPath}.python`);
    if (python) {
        const m = pythonConstraintMarker(python);
        if (m)
            markerParts.push(m);
    }
    const platform = r.optString(t['platform'], `${keyPath}.platform`);
    if (platform)
        markerParts.push(`sys_platform == ${JSON.stringify(platform)}`);
    const marker = markerParts.length === 0
        ? null
        : parseMarker(markerParts.map((m) => (markerParts.length > 1 ? `(${m})` : m)).join(' and '), {
            file: r.file,
            keyPath
        });
    let direct = null;
    const git = r.optString(t['git'], `${keyPath}.git`);
    const path = r.optString(t['path'], `${keyPath}.path`);
    const url = r.optString(t['url'], `${keyPath}.url`);
    if (git)
        direct = {
            kind: 'git',
            url: withoutUserinfo(git),
            subdirectory: r.optString(t['subdirectory'], `${keyPath}.subdirectory`) ?? null
        };
    else if (path)
        direct = { kind: 'path', path };
    else if (url)
        direct = { kind: 'url', url: withoutUserinfo(url) };
    const e = {
        ...edge(name, (r.optStrings(t['extras'], `${keyPath}.extras`) ?? []).map(normalizeGroup), marker, poetryMatcher(r.optString(t['version'], `${keyPath}.version`) ?? '*')),
        sourceName: r.optString(t['source'], `${keyPath}.source`) ?? null,
        direct
    };
    return { edge: e, optional: r.optBool(t['optional'], `${keyPath}.optional`) ?? false };
}
function edge(name, extras, marker, version) {
    return { name, extras, marker, version, pinVersion: null, pinSource: null, sourceName: null, direct: null };
}
/**
 * Poetry's `python = "^3.8"` on a dependency → a marker string. Versions with two components
 * compare `python_version`; longer ones `python_full_version`, as Poetry itself writes them.
 */
function pythonConstraintMarker(constraint) {
    const alternatives = poetryToPep440(constraint);
    if (alternatives === null || alternatives.some((a) => a.length === 0))
        return null;
    const parts = alternatives.map((clauses) => clauses
        .map((clause) => {
        const [, op = '==', version = ''] = /^(===|==|!=|~=|>=|<=|>|<)?(.*)$/.exec(clause) ?? [];
        const variable = version.split('.').length <= 2 && !version.includes('*') ? 'python_version' : 'python_full_version';
        return `${variable} ${op} ${JSON.stringify(version)}`;
    })
        .join(' and '));
    return parts.length === 1 ? parts[0] : parts.map((a) => `(${a})`).join(' or ');
}
/** PEP 735: resolve `{include-group = "…"}` entries, refusing cycles and unknown groups. */
function resolveDependencyGroups(r, groups) {
    const byNormalized = new Map();
    for (const g of Object.keys(groups)) {
        const n = normalizeGroup(g);
        if (byNormalized.has(n))
            r.fail(`dependency-groups.${g}`, `group ${JSON.stringify(g)} is declared twice (as ${JSON.stringify(byNormalized.get(n))})`);
        byNormalized.set(n, g);
    }
    const done = new Map();
    const visit = (g, stack) => {
        const cached = done.get(g);
        if (cached)
            return cached;
        if (stack.includes(g)) {
            r.fail(`dependency-groups.${g}`, `include-group cycle: ${[...stack, g].join(' → ')}`, 'remove one of the include-group entries');
        }
        const keyPath = `dependency-groups.${g}`;
        const edges = [];
        for (const [i, item] of r.array(groups[g], keyPath).entries()) {
            if (typeof item === 'string') {
                edges.push(requirementEdge(item, r.file, `${keyPath}[${i}]`));
            }
            else {
                const t = r.table(item, `${keyPath}[${i}]`);
                const inc = r.string(t['include-group'], `${keyPath}[${i}].include-group`);
                const target = byNormalized.get(normalizeGroup(inc));
                if (!target) {
                    r.fail(`${keyPath}[${i}].include-group`, `unknown group ${JSON.stringify(inc)}`, `groups are: ${[...byNormalized.values()].join(', ')}`);
                }
                edges.push(...visit(target, [...stack, g]));
            }
        }
        done.set(g, edges);
        return edges;
    };
    const out = new Map();
    for (const g of Object.keys(groups))
        out.set(g, visit(g, []));
    return out;
}

// Line numbers of `[[package]]` entries, for annotations and error locations. TOML parsers do
// not keep positions, and entries appear in file order, so one scan of the text suffices.
/** 1-based line of each `[[<table>]]` header, in file order. */
function arrayTableLines(text, table = 'package') {
    const lines = [];
    const header = `[[${table}]]`;
    let line = 1;
    let start = 0;
    for (;;) {
        const nl = text.indexOf('\n', start);
        const end = nl === -1 ? text.length : nl;
        // Cheap check before trimming: most lines do not start with '['.
        if (text.charCodeAt(start) === 91 /* [ */ ||
            text.charCodeAt(start) === 32 ||
            text.charCodeAt(start) === 9) {
            if (text.slice(start, end).trim() === header)
                lines.push(line);
        }
        if (nl === -1)
            break;
        start = nl + 1;
        line++;
    }
    return lines;
}

// Wheel and sdist file names (PEP 427, PEP 425, the binary and source distribution format specs).
// `parseWheelFilename` accepts exactly what `packaging.utils.parse_wheel_filename` accepts and
// returns the same name, build tag and tag set; the tests compare the two on every wheel in the
// lock corpus.
function formatTag(t) {
    return `${t.interpreter}-${t.abi}-${t.platform}`.toLowerCase();
}
/**
 * Expand a (possibly compressed) tag set such as `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`
 * into its tags. Null when the text is not three `-`-separated parts.
 */
function parseTagSet(text) {
    const parts = text.split('-');
    if (parts.length !== 3)
        return null;
    const [interpreters, abis, platforms] = parts;
    const out = new Set();
    for (const i of interpreters.split('.'))
        for (const a of abis.split('.'))
            for (const p of platforms.split('.'))
                out.add(formatTag({ interpreter: i, abi: a, platform: p }));
    return [...out];
}
// packaging: `"__" in name or not re.match(r"^[\w\d._]*$", name, re.UNICODE)`; Python's Unicode
// `\w` is letters, numbers and `_`.
const NAME_PART = /^[\p{L}\p{N}_.]*$/u;
const BUILD_TAG = /^([0-9]+)(.*)$/s;
/** Parse a wheel file name; null when packaging would raise `InvalidWheelFilename`. */
// Planning asks for the same file names once per target and variant; parses are memoized
// (bounded, since a long-lived process may see many locks).
const parsed = new Map();
const MAX_MEMO = 200_000;
function parseWheelFilename(filename) {
    const hit = parsed.get(filename);
    if (hit !== undefined)
        return hit;
    const result = parseWheelFilenameUncached(filename);
    if (parsed.size >= MAX_MEMO)
        parsed.clear();
    parsed.set(filename, result);
    return result;
}
function parseWheelFilenameUncached(filename) {
    if (!filename.endsWith('.whl'))
        return null;
    const stem = filename.slice(0, -'.whl'.length);
    const fields = stem.split('-');
    const dashes = fields.length - 1;
    if (dashes !== 4 && dashes !== 5)
        return null;
    const [namePart, versionPart] = fields;
    if (namePart.includes('__') || !NAME_PART.test(namePart))
        return null;
    if (parseVersion(versionPart.trim()) === null)
        return null;
    let build = null;
    if (dashes === 5) {
        const m = BUILD_TAG.exec(fields[2]);
        if (!m)
            return null;
        build = { number: Number(m[1]), rest: m[2] };
    }
    const tags = parseTagSet(fields.slice(-3).join('-'));
    if (!tags)
        return null;
    return { filename, distribution: normalizeName(namePart), version: versionPart, build, tags };
}
/** Order of build tags as pip uses it: none < any; then by number, then by the rest (code points). */
function compareBuildTags(a, b) {
    if (a === null || b === null)
        return a === b ? 0 : a === null ? -1 : 1;
    if (a.number !== b.number)
        return a.number < b.number ? -1 : 1;
    return compareCodePoints$1(a.rest, b.rest);
}
/** Plain code-point order, the same in every locale (unlike `localeCompare`). */
function compareCodePoints$1(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/**
 * Archive suffixes pip unpacks as source distributions (its `ARCHIVE_EXTENSIONS` without `.whl`).
 * Modern sdists are `.tar.gz` (and `.zip` before PEP 625); old releases on PyPI have the others.
 */
const SDIST_SUFFIXES = [
    '.tar.gz',
    '.tgz',
    '.tar',
    '.zip',
    '.tar.bz2',
    '.tbz',
    '.tar.xz',
    '.txz',
    '.tlz',
    '.tar.lz',
    '.tar.lzma'
];
function sdistStem(filename) {
    const lower = filename.toLowerCase();
    for (const s of SDIST_SUFFIXES)
        if (lower.endsWith(s))
            return filename.slice(0, -s.length);
    return null;
}
function isSdistFilename(filename) {
    return sdistStem(filename) !== null;
}
/**
 * `name-version.tar.gz` → name and version, split at the last `-` as packaging's
 * `parse_sdist_filename` does (a PEP 440 version has no `-` in its normal form). Unlike packaging,
 * every suffix of `SDIST_SUFFIXES` is accepted, since old locks list `.tar.bz2` and `.tgz` files.
 * Null when there is no `-` or the version is not PEP 440.
 */
function parseSdistFilename(filename) {
    const stem = sdistStem(filename);
    if (stem === null)
        return null;
    const dash = stem.lastIndexOf('-');
    if (dash < 0)
        return null;
    const version = stem.slice(dash + 1);
    if (parseVersion(version.trim()) === null)
        return null;
    return { filename, distribution: normalizeName(stem.slice(0, dash)), version };
}
/** The version in a wheel or sdist file name, or null when the name is neither. */
function filenameVersion(filename) {
    return parseWheelFilename(filename)?.version ?? parseSdistFilename(filename)?.version ?? null;
}

const PYPI_SIMPLE = 'https://pypi.org/simple';
function isLocalSource(s) {
    return s.kind === 'directory';
}
/** The packages of each name (a lock may hold several of one name: other versions, other sources). */
function packagesByName(packages) {
    const byName = new Map();
    for (const p of packages) {
        const list = byName.get(p.name);
        if (list)
            list.push(p);
        else
            byName.set(p.name, [p]);
    }
    return byName;
}
/**
 * A short, stable identity for a source, used in ids, diffs and `plan --json` ("pypi",
 * "git+url@commit"). Never with userinfo, even for a model a reader did not build.
 */
function sourceLabel(s) {
    switch (s.kind) {
        case 'registry':
            return s.url === PYPI_SIMPLE ? 'pypi' : s.url === '' ? 'index' : withoutUserinfo(s.url);
        case 'git':
            return `git+${withoutUserinfo(s.url)}${s.commit ? `@${s.commit}` : ''}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`;
        case 'url':
            return withoutUserinfo(s.url);
        case 'file':
            return `file:${s.path}`;
        case 'directory':
            return `path:${s.path}`;
    }
}
function fileKind(name) {
    if (name.endsWith('.whl'))
        return 'wheel';
    if (isSdistFilename(name))
        return 'sdist';
    return 'other';
}
/** Parse `sha256:abc…` (Poetry, uv) into a hashes record. */
function parseHashString(h) {
    const m = /^([a-z0-9_]+)[:=]([0-9a-fA-F]+)$/.exec(h.trim());
    if (!m)
        return null;
    return { [m[1]]: m[2].toLowerCase() };
}
/** The last path segment of a URL, decoded (wheel file names are in URLs). */
function fileNameFromUrl(url) {
    const noQuery = url.split(/[?#]/)[0] ?? url;
    const last = noQuery.slice(noQuery.lastIndexOf('/') + 1);
    try {
        return decodeURIComponent(last);
    }
    catch {
        return last;
    }
}
/**
 * Defines `obj[key]` as computed on first read, then kept. Locks describe far more than one
 * selection uses (thousands of markers on edges no variant reaches, thousands of files for other
 * platforms); deferring that work keeps reading a large lock cheap. Errors raised by `compute`
 * carry their own file and key path, so reporting them late loses nothing.
 */
function lazyProperty(obj, key, compute) {
    return Object.defineProperty(obj, key, {
        enumerable: true,
        configurable: true,
        get() {
            const value = compute();
            Object.defineProperty(this, key, { value, enumerable: true });
            return value;
        }
    });
}
/** An edge whose marker is parsed on first use (see lazyProperty). */
function lazyMarker(obj, text, at) {
    if (!text)
        return { ...obj, marker: null };
    return lazyProperty(obj, 'marker', () => parseMarker(text, at));
}

// Python's `json.dumps(obj, sort_keys=True)` byte for byte: ", " and ": " separators, keys sorted
// by code point, non-ASCII escaped as \uXXXX (ensure_ascii). Poetry hashes this text, so ours
// must match exactly or every lock would read as stale.
function pythonJsonDumps(value) {
    if (value === null || value === undefined)
        return 'null';
    if (value === true)
        return 'true';
    if (value === false)
        return 'false';
    if (typeof value === 'bigint')
        return value.toString();
    if (typeof value === 'number')
        return pythonNumber(value);
    if (typeof value === 'string')
        return pythonString(value);
    if (Array.isArray(value))
        return `[${value.map(pythonJsonDumps).join(', ')}]`;
    if (value instanceof Date)
        return pythonString(value.toISOString());
    if (typeof value === 'object') {
        const keys = Object.keys(value).sort(compareCodePoints);
        return `{${keys.map((k) => `${pythonString(k)}: ${pythonJsonDumps(value[k])}`).join(', ')}}`;
    }
    throw new TypeError(`cannot serialize ${typeof value}`);
}
function pythonNumber(n) {
    if (Number.isInteger(n) && Math.abs(n) < 1e16)
        return String(n);
    if (Number.isNaN(n))
        return 'NaN';
    if (!Number.isFinite(n))
        return n > 0 ? 'Infinity' : '-Infinity';
    // Python's float repr: shortest round-trip, always with a '.' or exponent.
    const s = String(n);
    if (/e/.test(s))
        return s.replace(/e([+-])(\d)$/, 'e$10$2');
    return s.includes('.') ? s : `${s}.0`;
}
const ESCAPES = {
    '"': '\\"',
    '\\': '\\\\',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\b': '\\b',
    '\f': '\\f'
};
function pythonString(s) {
    let out = '"';
    for (let i = 0; i < s.length; i++) {
        const ch = s[i];
        const code = s.charCodeAt(i);
        const esc = ESCAPES[ch];
        if (esc)
            out += esc;
        else if (code < 0x20 || code > 0x7e)
            out += `\\u${code.toString(16).padStart(4, '0')}`;
        else
            out += ch;
    }
    return out + '"';
}
/** Python sorts str keys by code point; JS's default sort is by UTF-16 unit. */
function compareCodePoints(a, b) {
    const ai = a[Symbol.iterator]();
    const bi = b[Symbol.iterator]();
    for (;;) {
        const x = ai.next();
        const y = bi.next();
        if (x.done || y.done)
            return x.done && y.done ? 0 : x.done ? -1 : 1;
        const d = x.value.codePointAt(0) - y.value.codePointAt(0);
        if (d !== 0)
            return d;
    }
}

// Poetry's lock freshness check (`Locker._get_content_hash`): sha256 of Python's
// json.dumps(relevant pyproject content, sort_keys=True).
const LEGACY_KEYS = ['dependencies', 'source', 'extras', 'dev-dependencies'];
const RELEVANT_KEYS = [...LEGACY_KEYS, 'group'];
const PROJECT_KEYS = ['requires-python', 'dependencies', 'optional-dependencies'];
/**
 * The content hashes Poetry versions would write for this pyproject: Poetry 2.2+ also hashes
 * [dependency-groups]; 2.0/2.1 ignore them; 1.x hashes [tool.poetry] alone (which the 2.x rule
 * reduces to when [project] has none of its keys). A lock is fresh if it matches any of them.
 */
function poetryContentHashes(pyproject) {
    const withGroups = sha256$1(relevantContent(pyproject, true));
    const withoutGroups = sha256$1(relevantContent(pyproject, false));
    return withGroups === withoutGroups ? [withGroups] : [withGroups, withoutGroups];
}
function relevantContent(pyproject, dependencyGroups) {
    const project = isTable(pyproject['project']) ? pyproject['project'] : {};
    const tool = isTable(pyproject['tool']) ? pyproject['tool'] : {};
    const poetry = isTable(tool['poetry']) ? tool['poetry'] : {};
    const groups = dependencyGroups && isTable(pyproject['dependency-groups']) ? pyproject['dependency-groups'] : null;
    const hasGroups = groups !== null && Object.keys(groups).length > 0;
    const relevantProject = {};
    for (const key of PROJECT_KEYS) {
        if (project[key] !== undefined)
            relevantProject[key] = project[key];
    }
    const hasProject = Object.keys(relevantProject).length > 0;
    const relevantPoetry = {};
    for (const key of RELEVANT_KEYS) {
        const data = poetry[key];
        // Legacy keys are hashed as null when absent, but only in the [tool.poetry]-only layout.
        if (data === undefined && (!LEGACY_KEYS.includes(key) || hasProject || hasGroups))
            continue;
        relevantPoetry[key] = data ?? null;
    }
    if (!hasProject && !hasGroups)
        return relevantPoetry;
    const out = {};
    if (hasProject)
        out['project'] = relevantProject;
    if (hasGroups)
        out['dependency-groups'] = groups;
    out['tool'] = { poetry: relevantPoetry };
    return out;
}
function sha256$1(content) {
    return createHash('sha256').update(pythonJsonDumps(content), 'utf8').digest('hex');
}

// Poetry 2.x writes each package's files as a `files = [` … `]` array, one
// `{file = "…", hash = "…"},` per line: on big locks most of the bytes, and most of the time a
// general TOML parser spends. Those arrays are cut out of the text before the parse (each line
// kept as an empty one, so every line number stays right) and read later, only for the packages
// a plan looks at, with a strict line pattern. An array with any other line is left in place for
// the TOML parser, so nothing the pattern does not cover is ever read by it.
/** `{file = "name", hash = "algo:hex"},`: plain strings only (no escapes), as Poetry writes them. */
const FILE_LINE = /^ {4}\{file = "([^"\\\n]*)", hash = "([^"\\\n]*)"\},?$/;
function cutPoetryFileArrays(text) {
    const lines = text.split('\n');
    const bodies = new Map();
    let pkg = -1;
    // True while inside the [[package]] table itself (not one of its sub-tables).
    let inPackage = false;
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (line.charCodeAt(0) === 91 /* [ */) {
            const header = line.trim();
            if (header === '[[package]]') {
                pkg++;
                inPackage = true;
            }
            else
                inPackage = false;
            continue;
        }
        if (!inPackage || line !== 'files = [')
            continue;
        let end = i + 1;
        while (end < lines.length && FILE_LINE.test(lines[end]))
            end++;
        if (end >= lines.length || lines[end] !== ']')
            continue; // some other shape: the parser reads it
        bodies.set(pkg, lines.slice(i + 1, end));
        for (let k = i + 1; k < end; k++)
            lines[k] = '';
        i = end;
    }
    return { text: bodies.size > 0 ? lines.join('\n') : text, bodies };
}
/** The file tables of a cut array, as the TOML parser would have given them. */
function readCutFiles(body) {
    return body.map((line) => {
        const m = FILE_LINE.exec(line);
        return { file: m[1], hash: m[2] };
    });
}

const SUPPORTED = ['1.0', '1.1', '2.0', '2.1'];
function readPoetryLock(text, data, file, project, 
/** The `files` arrays cut out of `data` before the parse, if any (see poetry-files.ts). */
cut = null) {
    const r = new TomlReader(file, LockError);
    const metadata = r.table(data['metadata'] ?? r.fail('metadata', 'no [metadata] table', 'regenerate the lock with `poetry lock`'), 'metadata');
    const version = r.optString(metadata['lock-version'], 'metadata.lock-version') ?? '1.0';
    if (!SUPPORTED.includes(version)) {
        r.fail('metadata.lock-version', `unknown Poetry lock-version ${JSON.stringify(version)} (fast-build reads ${SUPPORTED.slice(1).join(', ')})`, /^[2-9]/.test(version)
            ? 'upgrade fast-build, or write the lock with a Poetry that produces a supported lock-version'
            : 'regenerate the lock with `poetry lock`');
    }
    const expected = r.optString(metadata['content-hash'], 'metadata.content-hash');
    if (expected !== undefined && !poetryContentHashes(project.data).includes(expected)) {
        throw new LockError(`lock is stale: ${project.file} changed since the lock was written (content-hash does not match)`, { file, keyPath: 'metadata.content-hash' }, 'run `poetry lock` (Poetry 2) or `poetry lock --no-update` (Poetry 1.x) and commit the result');
    }
    const lines = arrayTableLines(text);
    const legacyFiles = r.optTable(metadata['files'], 'metadata.files');
    const packages = r
        .tables(data['package'] ?? [], 'package')
        .map((p, i) => readPackage$2(r, p, i, lines[i] ?? 0, legacyFiles, cut?.bodies.get(i)));
    const byName = packagesByName(packages);
    const root = poetryRoot(project);
    return {
        path: file,
        format: 'poetry',
        version,
        packages,
        byName,
        requiresPython: r.optString(metadata['python-versions'], 'metadata.python-versions') ?? null,
        selection: 'graph',
        roots: [root],
        conflictNames: new Set(),
        declared: null
    };
}
function readPackage$2(r, p, i, line, legacyFiles, cutFiles) {
    const at = `package[${i}]`;
    const fail = (key, message) => r.fail(`${at}.${key}`, message, 'regenerate the lock with `poetry lock`', line);
    const displayName = typeof p['name'] === 'string' ? p['name'] : fail('name', 'package has no name');
    const name = normalizeName(displayName);
    const version = typeof p['version'] === 'string' ? p['version'] : fail('version', `package ${displayName} has no version`);
    const source = readSource$1(r, p['source'], `${at}.source`);
    // Files: per package since lock 2.0; in 1.x under [metadata.files], keyed by name and shared by
    // every version of that name, so keep only those whose file name carries this version.
    const files = () => {
        let fileTables;
        if (cutFiles)
            fileTables = readCutFiles(cutFiles);
        else if (p['files'] !== undefined)
            fileTables = r.tables(p['files'], `${at}.files`);
        else {
            const key = legacyFiles ? Object.keys(legacyFiles).find((k) => normalizeName(k) === name) : undefined;
            fileTables = key
                ? r.tables(legacyFiles[key], `metadata.files.${key}`).filter((f) => fileHasVersion(f, version))
                : [];
        }
        return fileTables.map((f, j) => {
            const fname = r.string(f['file'] ?? f['name'], `${at}.files[${j}].file`);
            const hash = r.optString(f['hash'], `${at}.files[${j}].hash`);
            return {
                name: fname,
                url: optUrl(r.optString(f['url'], `${at}.files[${j}].url`)),
                path: null,
                hashes: (hash && parseHashString(hash)) || {},
                size: null,
                kind: fileKind(fname)
            };
        });
    };
    const deps = readDependencies(r, p['dependencies'], `${at}.dependencies`);
    const extrasTable = r.optTable(p['extras'], `${at}.extras`) ?? {};
    const extras = new Map();
    for (const [extra, list] of Object.entries(extrasTable)) {
        const names = new Set(r.strings(list, `${at}.extras.${extra}`).map(requirementName));
        extras.set(normalizeGroup(extra), deps.filter((d) => names.has(d.edge.name)).map((d) => d.edge));
    }
    return lazyProperty({
        id: `${name}==${version}${source.kind === 'registry' && source.name === null ? '' : ` (${source.kind === 'registry' ? source.name : source.kind})`}`,
        name,
        version,
        source,
        sourceRef: null,
        dependencies: deps.filter((d) => !d.optional).map((d) => d.edge),
        extras,
        groups: new Map(),
        recorded: readRecorded(r, p, at),
        line
    }, 'files', files);
}
/** A file URL of the lock, without userinfo (kept aside for the request: keepUserinfo). */
function optUrl(url) {
    return url === undefined ? null : keepUserinfo(url);
}
/** `foo (>=1.0)`, `foo[bar] (>=1) ; marker`, `foo>=1` → the normalized name. */
function requirementName(text) {
    return normalizeName(/^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(text)?.[1] ?? text);
}
function fileHasVersion(f, version) {
    const v = typeof f['file'] === 'string' ? filenameVersion(f['file']) : null;
    if (v === null)
        return true;
    return versionsEqual(v, version) || v === version;
}
function readSource$1(r, value, at) {
    if (value === undefined)
        return { kind: 'registry', url: PYPI_SIMPLE, name: null };
    const s = r.table(value, at);
    const type = r.string(s['type'], `${at}.type`);
    const written = r.optString(s['url'], `${at}.url`) ?? '';
    // Index, git and archive URLs lose their userinfo here (kept aside for requests: keepUserinfo).
    const url = type === 'file' || type === 'directory' ? written : keepUserinfo(written);
    const reference = r.optString(s['reference'], `${at}.reference`) ?? null;
    switch (type) {
        case 'legacy':
            return { kind: 'registry', url: url.replace(/\/+$/, ''), name: reference };
        case 'git':
            return {
                kind: 'git',
                url,
                commit: r.optString(s['resolved_reference'], `${at}.resolved_reference`) ?? null,
                requested: reference,
                subdirectory: r.optString(s['subdirectory'], `${at}.subdirectory`) ?? null
            };
        case 'url':
            return { kind: 'url', url, subdirectory: r.optString(s['subdirectory'], `${at}.subdirectory`) ?? null };
        case 'file':
            return { kind: 'file', path: url };
        case 'directory':
            return { kind: 'directory', path: url, editable: false, virtual: false };
        default:
            return r.fail(`${at}.type`, `unknown source type ${JSON.stringify(type)}`, 'fast-build reads legacy, git, url, file and directory sources');
    }
}
/** `[package.dependencies]`: a constraint string, a table, or a list of tables per name. */
function readDependencies(r, value, at) {
    if (value === undefined)
        return [];
    const out = [];
    for (const [rawName, spec] of Object.entries(r.table(value, at))) {
        const name = normalizeName(rawName);
        const specs = Array.isArray(spec) ? spec : [spec];
        for (const [j, s] of specs.entries()) {
            const kp = Array.isArray(spec) ? `${at}.${rawName}[${j}]` : `${at}.${rawName}`;
            if (typeof s === 'string') {
                out.push({ edge: plainEdge(name, [], null, s), optional: false });
                continue;
            }
            const t = r.table(s, kp);
            const { marker: _, ...edge } = plainEdge(name, (r.optStrings(t['extras'], `${kp}.extras`) ?? []).map(normalizeGroup), null, r.optString(t['version'], `${kp}.version`) ?? '*');
            out.push({
                edge: lazyMarker(edge, r.optString(t['markers'], `${kp}.markers`), {
                    file: r.file,
                    keyPath: `${kp}.markers`
                }),
                optional: r.optBool(t['optional'], `${kp}.optional`) ?? false
            });
        }
    }
    return out;
}
function plainEdge(name, extras, marker, constraint) {
    return {
        name,
        extras,
        marker,
        version: poetryMatcher(constraint),
        pinVersion: null,
        pinSource: null,
        sourceName: null,
        direct: null
    };
}
/** Lock 2.1: `groups = [...]` and `markers` as one string or a table of group → marker. */
function readRecorded(r, p, at) {
    if (p['groups'] === undefined)
        return null;
    const groups = r.strings(p['groups'], `${at}.groups`);
    const markers = p['markers'];
    const byGroup = new Map();
    const parse = (s, kp) => parseMarker(s, { file: r.file, keyPath: kp });
    for (const g of groups) {
        let m = null;
        if (typeof markers === 'string')
            m = parse(markers, `${at}.markers`);
        else if (isTable(markers) && typeof markers[g] === 'string')
            m = parse(markers[g], `${at}.markers.${g}`);
        byGroup.set(normalizeGroup(g), m);
    }
    return { byGroup };
}
/** The project itself, as a root package built from pyproject.toml. */
function poetryRoot(project) {
    const name = project.name ?? 'root';
    const groups = new Map([...project.groups].filter(([g]) => g !== MAIN));
    const pkg = {
        id: `${name} (project)`,
        name,
        version: null,
        source: { kind: 'directory', path: '.', editable: true, virtual: false },
        sourceRef: null,
        files: [],
        dependencies: project.groups.get(MAIN) ?? [],
        extras: project.extras,
        groups,
        recorded: null,
        line: 0
    };
    return { name, package: pkg, groupNames: [MAIN, ...groups.keys()], extraNames: [...project.extras.keys()] };
}

// pylock.toml (PEP 751, lock-version 1.x) → the common lock model. A pylock file is already a
// flat install list: each package says by its `marker` (over `extras` and `dependency_groups`)
// when it is installed, so selection evaluates markers instead of walking a graph.
function readPylock(text, data, file) {
    const r = new TomlReader(file, LockError);
    const version = r.string(data['lock-version'] ??
        r.fail('lock-version', 'no lock-version', 'a pylock.toml must say lock-version = "1.0"'), 'lock-version');
    if (!/^1(\.\d+)?$/.test(version)) {
        r.fail('lock-version', `unknown pylock lock-version ${JSON.stringify(version)} (fast-build reads 1.x)`, 'upgrade fast-build, or export the lock in lock-version 1.0');
    }
    const lines = arrayTableLines(text, 'packages');
    const packages = r
        .tables(data['packages'] ?? [], 'packages')
        .map((p, i) => readPackage$1(r, p, i, lines[i] ?? 0));
    return {
        path: file,
        format: 'pylock',
        version,
        packages,
        byName: packagesByName(packages),
        requiresPython: r.optString(data['requires-python'], 'requires-python') ?? null,
        selection: 'markers',
        roots: [],
        conflictNames: new Set(),
        declared: {
            extras: (r.optStrings(data['extras'], 'extras') ?? []).map(normalizeGroup),
            groups: (r.optStrings(data['dependency-groups'], 'dependency-groups') ?? []).map(normalizeGroup),
            defaultGroups: (r.optStrings(data['default-groups'], 'default-groups') ?? []).map(normalizeGroup),
            environments: (r.optStrings(data['environments'], 'environments') ?? []).map((m, i) => parseMarker(m, { file, keyPath: `environments[${i}]` }))
        }
    };
}
function readHashes(r, v, at) {
    const out = {};
    for (const [alg, hex] of Object.entries(r.optTable(v, at) ?? {}))
        out[alg.toLowerCase()] = r.string(hex, `${at}.${alg}`).toLowerCase();
    return out;
}
function readFile$1(r, t, at, fallbackName) {
    const written = r.optString(t['url'], `${at}.url`);
    // Without userinfo (kept aside for the request, see keepUserinfo); the name comes from it too.
    const url = written === undefined ? null : keepUserinfo(written);
    const path = r.optString(t['path'], `${at}.path`) ?? null;
    const name = r.optString(t['name'], `${at}.name`) ??
        (url ? fileNameFromUrl(url) : path ? fileNameFromUrl(path) : fallbackName);
    const size = t['size'];
    return {
        name,
        url,
        path,
        hashes: readHashes(r, t['hashes'], `${at}.hashes`),
        size: typeof size === 'number' ? size : typeof size === 'bigint' ? Number(size) : null,
        kind: fileKind(name)
    };
}
function readPackage$1(r, p, i, line) {
    const at = `packages[${i}]`;
    const displayName = r.string(p['name'], `${at}.name`);
    const name = normalizeName(displayName);
    const version = r.optString(p['version'], `${at}.version`) ?? null;
    const marker = r.optString(p['marker'], `${at}.marker`);
    let source;
    const files = [];
    const vcs = r.optTable(p['vcs'], `${at}.vcs`);
    const directory = r.optTable(p['directory'], `${at}.directory`);
    const archive = r.optTable(p['archive'], `${at}.archive`);
    if (vcs) {
        source = {
            kind: 'git',
            url: keepUserinfo(r.optString(vcs['url'], `${at}.vcs.url`) ?? r.string(vcs['path'], `${at}.vcs.path`)),
            commit: r.string(vcs['commit-id'], `${at}.vcs.commit-id`),
            requested: r.optString(vcs['requested-revision'], `${at}.vcs.requested-revision`) ?? null,
            subdirectory: r.optString(vcs['subdirectory'], `${at}.vcs.subdirectory`) ?? null
        };
    }
    else if (directory) {
        source = {
            kind: 'directory',
            path: r.string(directory['path'], `${at}.directory.path`),
            editable: r.optBool(directory['editable'], `${at}.directory.editable`) ?? false,
            virtual: false
        };
    }
    else if (archive) {
        const f = readFile$1(r, archive, `${at}.archive`, `${displayName}-${version ?? '0'}.tar.gz`);
        files.push(f);
        source = f.url
            ? {
                kind: 'url',
                url: f.url,
                subdirectory: r.optString(archive['subdirectory'], `${at}.archive.subdirectory`) ?? null
            }
            : { kind: 'file', path: f.path ?? f.name };
    }
    else {
        source = {
            kind: 'registry',
            url: keepUserinfo(r.optString(p['index'], `${at}.index`) ?? '').replace(/\/+$/, ''),
            name: null
        };
        const sdist = r.optTable(p['sdist'], `${at}.sdist`);
        if (sdist)
            files.push(readFile$1(r, sdist, `${at}.sdist`, `${displayName}-${version ?? '0'}.tar.gz`));
        for (const [j, w] of (p['wheels'] === undefined ? [] : r.tables(p['wheels'], `${at}.wheels`)).entries()) {
            files.push(readFile$1(r, w, `${at}.wheels[${j}]`, `${displayName}.whl`));
        }
        if (files.length === 0) {
            r.fail(at, `package ${displayName} has no wheels, sdist, archive, vcs or directory`, 'PEP 751 requires one of them; re-export the lock', line);
        }
    }
    return {
        id: `${name}${version ? `==${version}` : ''}${source.kind === 'registry' ? '' : ` (${source.kind})`}`,
        name,
        version,
        source,
        sourceRef: null,
        files,
        dependencies: [],
        extras: new Map(),
        groups: new Map(),
        recorded: {
            byGroup: new Map([
                ['*', marker ? parseMarker(marker, { file: r.file, keyPath: `${at}.marker` }) : null]
            ]),
            requiresPython: pep440Matcher(r.optString(p['requires-python'], `${at}.requires-python`) ?? '')
        },
        line
    };
}

// uv.lock (version 1, revisions 1–3) → the common lock model, plus uv's freshness check:
// the workspace members and each member's requirements must agree with [manifest] and
// [package.metadata].
const MAX_REVISION = 3;
function readUvLock(text, data, file, project, opts = {}) {
    const r = new TomlReader(file, LockError);
    const notes = [];
    const version = data['version'];
    if (version !== 1) {
        r.fail('version', `unknown uv.lock version ${typeof version === 'number' || typeof version === 'string' ? JSON.stringify(version) : describeType(version)} (fast-build reads version 1)`, typeof version === 'number' && version > 1
            ? 'upgrade fast-build, or lock with a uv release that writes version 1'
            : 'regenerate the lock with `uv lock`');
    }
    const rev = data['revision'];
    if (rev !== undefined && !(typeof rev === 'number' && Number.isInteger(rev) && rev >= 1))
        r.fail('revision', `expected a revision number, found ${describeType(rev)}`, 'regenerate the lock with `uv lock`');
    const revision = typeof rev === 'number' ? rev : 1;
    if (revision > MAX_REVISION) {
        notes.push(`${file}: revision ${revision} is newer than the revisions fast-build was tested with (up to ${MAX_REVISION}); reading it as revision ${MAX_REVISION}`);
    }
    const lines = arrayTableLines(text);
    const metadata = new Map();
    const packages = r
        .tables(data['package'] ?? [], 'package')
        .map((p, i) => readPackage(r, p, i, lines[i] ?? 0, metadata));
    const byName = packagesByName(packages);
    const manifest = r.optTable(data['manifest'], 'manifest');
    const memberNames = (r.optStrings(manifest?.['members'], 'manifest.members') ?? []).map(normalizeName);
    const roots = uvRoots(r, project, packages, memberNames);
    if (opts.checkFreshness !== false)
        checkFreshness(r, project, packages, metadata, memberNames, roots);
    return {
        path: file,
        format: 'uv',
        version: `${version}.${revision}`,
        packages,
        byName,
        requiresPython: r.optString(data['requires-python'], 'requires-python') ?? null,
        selection: 'graph',
        roots,
        conflictNames: conflictNames(r, data['conflicts'], text),
        declared: null,
        notes
    };
}
function readPackage(r, p, i, line, metadata) {
    const at = `package[${i}]`;
    const displayName = r.string(p['name'], `${at}.name`);
    const name = normalizeName(displayName);
    const version = r.optString(p['version'], `${at}.version`) ?? null;
    const sourceTable = r.table(p['source'] ??
        r.fail(`${at}.source`, `package ${displayName} has no source`, 'regenerate the lock with `uv lock`', line), `${at}.source`);
    const source = readSource(r, sourceTable, `${at}.source`);
    const ref = sourceKey(r, sourceTable, `${at}.source`);
    const files = () => {
        const out = [];
        const sdist = r.optTable(p['sdist'], `${at}.sdist`);
        if (sdist)
            out.push(readFile(r, sdist, `${at}.sdist`, displayName, version, 'sdist'));
        for (const [j, w] of (p['wheels'] === undefined ? [] : r.tables(p['wheels'], `${at}.wheels`)).entries()) {
            out.push(readFile(r, w, `${at}.wheels[${j}]`, displayName, version, 'wheel'));
        }
        return out;
    };
    const edges = (v, kp) => v === undefined ? [] : r.tables(v, kp).map((e, j) => readEdge(r, e, `${kp}[${j}]`));
    const groupTable = (v, kp) => {
        const m = new Map();
        for (const [k, list] of Object.entries(r.optTable(v, kp) ?? {}))
            m.set(normalizeGroup(k), edges(list, `${kp}.${k}`));
        return m;
    };
    const pkg = lazyProperty({
        id: version === null ? `${name} (${ref})` : `${name}==${version} (${ref})`,
        name,
        version,
        source,
        sourceRef: ref,
        dependencies: edges(p['dependencies'], `${at}.dependencies`),
        extras: groupTable(p['optional-dependencies'], `${at}.optional-dependencies`),
        groups: groupTable(p['dev-dependencies'], `${at}.dev-dependencies`),
        recorded: null,
        line
    }, 'files', files);
    const meta = r.optTable(p['metadata'], `${at}.metadata`);
    if (meta && source.kind === 'directory')
        metadata.set(pkg, readMetadata(r, meta, `${at}.metadata`));
    return pkg;
}
function readMetadata(r, meta, at) {
    const requirements = new Map();
    const add = (section, t, kp) => {
        const extras = t['extras'] === undefined ? [] : r.strings(t['extras'], `${kp}.extras`);
        const marker = typeof t['marker'] === 'string' ? t['marker'] : '';
        // Optional dependencies are folded into requires-dist with an `extra == '…'` marker.
        const extra = /extra\s*==\s*['"]([^'"]+)['"]/.exec(marker)?.[1];
        const direct = ['path', 'git', 'url', 'editable', 'directory', 'workspace'].some((k) => k in t);
        const spec = !direct && typeof t['specifier'] === 'string' ? t['specifier'] : '';
        const key = requirementKey(r.string(t['name'], `${kp}.name`), extras, spec);
        const where = section === 'main' && extra ? `extra:${normalizeGroup(extra)}` : section;
        // Appended in place: copying the list for every entry made reading quadratic.
        const list = requirements.get(where);
        if (list)
            list.push(key);
        else
            requirements.set(where, [key]);
    };
    const dist = meta['requires-dist'] === undefined ? [] : r.tables(meta['requires-dist'], `${at}.requires-dist`);
    for (const [i, t] of dist.entries())
        add('main', t, `${at}.requires-dist[${i}]`);
    for (const [g, list] of Object.entries(r.optTable(meta['requires-dev'], `${at}.requires-dev`) ?? {})) {
        for (const [i, t] of r.tables(list, `${at}.requires-dev.${g}`).entries())
            add(`group:${normalizeGroup(g)}`, t, `${at}.requires-dev.${g}[${i}]`);
    }
    return { requirements };
}
/**
 * uv's encoding of a declared conflict item as a marker extra: `extra-<len>-<package>-<extra>`,
 * `group-<len>-<package>-<group>`, or `project-<len>-<package>` (len is the package name's length).
 */
function conflictName(pkg, item) {
    const p = normalizeName(pkg);
    if (item.extra !== undefined)
        return `extra-${p.length}-${p}-${normalizeGroup(item.extra)}`;
    if (item.group !== undefined)
        return `group-${p.length}-${p}-${normalizeGroup(item.group)}`;
    return `project-${p.length}-${p}`;
}
/**
 * The lock's `conflicts`: the encoded names (what `Lock.conflictNames` promises) plus the sets
 * themselves, which the planner needs to refuse a selection that turns on two items of one set.
 * A Set subclass so that the common lock model keeps its shape; `declaredConflicts` reads it back.
 */
class DeclaredConflicts extends Set {
    sets;
    line;
    constructor(sets, 
    /** 1-based line of `conflicts =` in the lock (0 when unknown). */
    line) {
        super(sets.flatMap((s) => s.map((i) => i.encoded)));
        this.sets = sets;
        this.line = line;
    }
}
/** The declared conflict sets of a uv lock (none for other formats or a lock without them). */
function declaredConflicts(lock) {
    return lock.conflictNames instanceof DeclaredConflicts && lock.conflictNames.sets.length > 0
        ? lock.conflictNames
        : null;
}
/** `pydantic-ai-slim[mcp-tasks]`, `group dev of pydantic-ai`, `project foo`: as a user reads it. */
function describeConflictItem(item) {
    switch (item.kind) {
        case 'extra':
            return `${item.package}[${item.name}]`;
        case 'group':
            return `group ${item.name} of ${item.package}`;
        case 'project':
            return `project ${item.package}`;
    }
}
function conflictNames(r, value, text) {
    const sets = [];
    for (const [i, set] of (value === undefined ? [] : r.array(value, 'conflicts')).entries()) {
        sets.push(r.tables(set, `conflicts[${i}]`).map((item, j) => {
            const at = `conflicts[${i}][${j}]`;
            const pkg = normalizeName(r.string(item['package'], `${at}.package`));
            const extra = r.optString(item['extra'], `${at}.extra`);
            const group = r.optString(item['group'], `${at}.group`);
            const kind = extra !== undefined ? 'extra' : group !== undefined ? 'group' : 'project';
            const name = extra ?? group;
            return {
                package: pkg,
                kind,
                name: name === undefined ? null : normalizeGroup(name),
                encoded: conflictName(pkg, {
                    ...(extra !== undefined ? { extra } : {}),
                    ...(group !== undefined ? { group } : {})
                })
            };
        }));
    }
    const at = sets.length > 0 ? /^conflicts\s*=/m.exec(text) : null;
    const line = at ? text.slice(0, at.index).split('\n').length : 0;
    return new DeclaredConflicts(sets, line);
}
const SOURCE_KINDS = ['registry', 'git', 'url', 'path', 'directory', 'editable', 'virtual'];
/**
 * A stable text for a `source = {…}` table, used to match edges that pin a source: its kind (the
 * key that says it, wherever it stands in the table) and that key's value. It enters package ids,
 * which messages print: URLs lose their userinfo (see keepUserinfo).
 */
function sourceKey(r, t, at) {
    const kind = SOURCE_KINDS.find((k) => t[k] !== undefined) ?? Object.keys(t)[0];
    return kind === undefined ? '' : `${kind}+${withoutUserinfo(r.string(t[kind], `${at}.${kind}`))}`;
}
function readSource(r, t, at) {
    const str = (k) => r.string(t[k], `${at}.${k}`);
    if (t['registry'] !== undefined)
        return { kind: 'registry', url: keepUserinfo(str('registry')).replace(/\/+$/, ''), name: null };
    if (t['git'] !== undefined)
        return parseGitSource(str('git'));
    if (t['url'] !== undefined)
        return {
            kind: 'url',
            url: keepUserinfo(str('url')),
            subdirectory: r.optString(t['subdirectory'], `${at}.subdirectory`) ?? null
        };
    if (t['path'] !== undefined)
        return { kind: 'file', path: str('path') };
    if (t['directory'] !== undefined)
        return { kind: 'directory', path: str('directory'), editable: false, virtual: false };
    if (t['editable'] !== undefined)
        return { kind: 'directory', path: str('editable'), editable: true, virtual: false };
    if (t['virtual'] !== undefined)
        return { kind: 'directory', path: str('virtual'), editable: false, virtual: true };
    return r.fail(at, `unknown source ${JSON.stringify(Object.keys(t))}`, 'fast-build reads registry, git, url, path, directory, editable and virtual sources');
}
/** `https://host/repo.git?subdirectory=x&rev=v1#<commit>` → git source (its URL without userinfo). */
function parseGitSource(text) {
    const hash = text.indexOf('#');
    const commit = hash === -1 ? null : text.slice(hash + 1);
    const noFragment = hash === -1 ? text : text.slice(0, hash);
    const q = noFragment.indexOf('?');
    const url = keepUserinfo(q === -1 ? noFragment : noFragment.slice(0, q));
    const params = new URLSearchParams(q === -1 ? '' : noFragment.slice(q + 1));
    return {
        kind: 'git',
        url,
        commit,
        requested: params.get('rev') ?? params.get('tag') ?? params.get('branch'),
        subdirectory: params.get('subdirectory')
    };
}
function readFile(r, t, at, pkg, version, kind) {
    const rawUrl = r.optString(t['url'], `${at}.url`);
    const url = rawUrl === undefined ? null : keepUserinfo(rawUrl);
    const path = r.optString(t['path'], `${at}.path`) ?? null;
    const name = r.optString(t['filename'], `${at}.filename`) ??
        (url
            ? fileNameFromUrl(url)
            : path
                ? fileNameFromUrl(path)
                : `${pkg}-${version ?? '0'}.${kind === 'wheel' ? 'whl' : 'tar.gz'}`);
    const hash = r.optString(t['hash'], `${at}.hash`);
    const size = t['size'];
    return {
        name,
        url,
        path,
        hashes: (hash && parseHashString(hash)) || {},
        size: typeof size === 'number' ? size : typeof size === 'bigint' ? Number(size) : null,
        kind: fileKind(name) === 'other' ? kind : fileKind(name)
    };
}
function readEdge(r, t, at) {
    const marker = r.optString(t['marker'], `${at}.marker`);
    const extra = t['extra'];
    const src = r.optTable(t['source'], `${at}.source`);
    return lazyMarker({
        name: normalizeName(r.string(t['name'], `${at}.name`)),
        extras: (extra === undefined ? [] : r.strings(extra, `${at}.extra`)).map(normalizeGroup),
        version: null,
        pinVersion: r.optString(t['version'], `${at}.version`) ?? null,
        pinSource: src ? sourceKey(r, src, `${at}.source`) : null,
        sourceName: null,
        direct: null
    }, marker, { file: r.file, keyPath: `${at}.marker` });
}
/**
 * Where the walk starts: the project in --project DIR when it is a package in the lock, else
 * (a virtual workspace root with no [project]) every workspace member.
 */
function uvRoots(r, project, packages, members) {
    const local = (n) => packages.find((p) => p.name === n && p.source.kind === 'directory');
    const names = project.name && local(project.name) ? [project.name] : members;
    if (names.length === 0) {
        r.fail('package', project.name
            ? `the project ${JSON.stringify(project.name)} from ${project.file} is not in the lock`
            : `${project.file} has no [project] name and the lock lists no workspace members`, 'run `uv lock` in the project directory');
    }
    return names.map((n) => {
        const pkg = local(n) ??
            r.fail('manifest.members', `workspace member ${JSON.stringify(n)} has no package entry`, 'run `uv lock`');
        const meta = pkg; // group and extra names: the lock's own tables
        return {
            name: n,
            package: pkg,
            groupNames: [MAIN, ...meta.groups.keys()],
            extraNames: [...meta.extras.keys()]
        };
    });
}
/** Workspace members from [tool.uv.workspace]: the root (if it has a [project]) plus matching dirs. */
function workspaceMembers(project) {
    const out = [];
    if (project.name)
        out.push({ name: project.name, dir: project.dir, project });
    const ws = project.uvWorkspace;
    if (!ws)
        return out;
    const excluded = new Set(ws.exclude.flatMap((g) => expandGlob(project.dir, g)));
    for (const pattern of ws.members) {
        for (const dir of expandGlob(project.dir, pattern)) {
            if (excluded.has(dir) || !existsSync(join(dir, 'pyproject.toml')))
                continue;
            const member = readProject(dir, relative(process.cwd(), dir) || '.');
            if (member.name && !out.some((m) => m.name === member.name))
                out.push({ name: member.name, dir, project: member });
        }
    }
    return out;
}
/** Directory globs as uv takes them (`packages/*`, `libs/**`): `*` matches one path segment. */
function expandGlob(root, pattern) {
    const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
    let dirs = [resolve(root)];
    for (const seg of segments) {
        const next = [];
        for (const d of dirs) {
            if (seg === '**') {
                next.push(d, ...walkDirs(d));
            }
            else if (/[*?[]/.test(seg)) {
                const re = new RegExp(`^${seg
                    .replace(/[.+^${}()|\\]/g, '\\$&')
                    .replace(/\*/g, '[^/]*')
                    .replace(/\?/g, '[^/]')}$`);
                for (const e of safeReaddir(d))
                    if (re.test(e) && isDir(join(d, e)))
                        next.push(join(d, e));
            }
            else if (seg === '..') {
                next.push(resolve(d, '..'));
            }
            else if (isDir(join(d, seg))) {
                next.push(join(d, seg));
            }
        }
        dirs = next;
    }
    return dirs;
}
function walkDirs(d) {
    const out = [];
    for (const e of safeReaddir(d)) {
        if (e.startsWith('.'))
            continue;
        const p = join(d, e);
        if (isDir(p))
            out.push(p, ...walkDirs(p));
    }
    return out;
}
function safeReaddir(d) {
    try {
        return readdirSync(d).sort();
    }
    catch {
        return [];
    }
}
function isDir(p) {
    try {
        return statSync(p).isDirectory();
    }
    catch {
        return false;
    }
}
function checkFreshness(r, project, packages, metadata, manifestMembers, roots) {
    const stale = (message, keyPath) => r.fail(keyPath, `lock is stale: ${message}`, 'run `uv lock` and commit the result');
    const onDisk = workspaceMembers(project);
    if (manifestMembers.length > 0 || project.uvWorkspace) {
        const lockSet = [...new Set(manifestMembers)].sort();
        const diskSet = [...new Set(onDisk.map((m) => m.name))].sort();
        const missing = diskSet.filter((n) => !lockSet.includes(n));
        const extra = lockSet.filter((n) => !diskSet.includes(n));
        // A workspace whose root has no members besides itself writes no [manifest].
        if ((missing.length > 0 && !(lockSet.length === 0 && diskSet.length <= 1)) || extra.length > 0) {
            stale(`workspace members differ from ${project.file}` +
                (missing.length ? `; not in the lock: ${missing.join(', ')}` : '') +
                (extra.length ? `; in the lock but not in the workspace: ${extra.join(', ')}` : ''), 'manifest.members');
        }
    }
    const members = onDisk.length > 0 ? onDisk : roots.map((x) => ({ name: x.name, dir: project.dir, project }));
    for (const m of members) {
        const pkg = packages.find((p) => p.name === m.name && p.source.kind === 'directory');
        if (!pkg)
            return stale(`${m.name} (from ${m.project.file}) has no entry in the lock`, 'package');
        const meta = metadata.get(pkg);
        const sourced = new Set([...project.uvSourced, ...m.project.uvSourced]);
        if (meta)
            compareRequirements(m.project, pkg, meta, sourced, stale);
    }
}
function requirementKey(name, extras, specifier) {
    const spec = specifier.replace(/\s+/g, '').split(',').filter(Boolean).sort().join(',');
    const ex = [...extras].map(normalizeGroup).sort().join(',');
    return `${normalizeName(name)}${ex ? `[${ex}]` : ''}${spec}`;
}
/** uv drops the specifier of a requirement that [tool.uv.sources] points at a path, git or url. */
function edgeKeys(edges, sourced) {
    return edges
        .map((e) => requirementKey(e.name, e.extras, sourced.has(e.name) ? '' : (e.version?.text ?? '')))
        .sort();
}
/**
 * The member's declared requirements (main, each extra, each group) against what uv recorded.
 * Names, extras and specifiers are compared; markers are not, because uv rewrites them.
 * Sections pyproject declares dynamically (`dynamic = ["dependencies"]`) are skipped.
 */
function compareRequirements(member, pkg, meta, sourced, stale) {
    const project = isTable(member.data['project']) ? member.data['project'] : null;
    const dynamic = project && Array.isArray(project['dynamic']) ? project['dynamic'] : [];
    const sections = [];
    if (project && !dynamic.includes('dependencies'))
        sections.push(['main', member.groups.get(MAIN) ?? []]);
    if (project && !dynamic.includes('optional-dependencies')) {
        for (const [extra, edges] of member.extras)
            sections.push([`extra:${extra}`, edges]);
    }
    for (const [g, edges] of member.groups)
        if (g !== MAIN)
            sections.push([`group:${g}`, edges]);
    const declared = new Set(sections.map(([k]) => k));
    // Sections only the lock has (a group removed from pyproject) are stale too.
    for (const k of meta.requirements.keys()) {
        const dynamicSection = (k === 'main' && dynamic.includes('dependencies')) ||
            (k.startsWith('extra:') && dynamic.includes('optional-dependencies'));
        if (!declared.has(k) && !dynamicSection)
            sections.push([k, []]);
    }
    for (const [section, edges] of sections) {
        const ours = edgeKeys(edges, sourced);
        const theirs = [...(meta.requirements.get(section) ?? [])].sort();
        // Set look-ups, not Array.includes: a section may list tens of thousands of requirements.
        const ourSet = new Set(ours);
        const theirSet = new Set(theirs);
        const added = ours.filter((k) => !theirSet.has(k));
        const removed = theirs.filter((k) => !ourSet.has(k));
        if (added.length || removed.length) {
            const what = section === 'main' ? 'dependencies' : section.replace(':', ' ');
            stale(`${what} of ${pkg.name} in ${member.file} differ from the lock` +
                (added.length ? `; only in pyproject: ${added.join(' ')}` : '') +
                (removed.length ? `; only in the lock: ${removed.join(' ')}` : ''), `package.metadata (${pkg.name}, line ${pkg.line})`);
        }
    }
}

// Find the project's lock file and read it into the common model.
function formatOf(fileName) {
    if (fileName === 'poetry.lock')
        return 'poetry';
    if (fileName === 'uv.lock')
        return 'uv';
    if (/^pylock(\.[^.\s/]+)?\.toml$/.test(fileName))
        return 'pylock';
    return null;
}
/** The lock next to pyproject.toml, or the one [tool.fast-build] lock names. */
function findLock(project) {
    const display = (name) => join(project.file, '..', name);
    if (project.config.lock) {
        const name = project.config.lock;
        const format = formatOf(name.split('/').pop() ?? name);
        if (!format) {
            throw new ConfigError(`cannot tell the lock format of ${JSON.stringify(name)}`, { file: project.file, keyPath: 'tool.fast-build.lock' }, 'name a poetry.lock, uv.lock or pylock.toml (pylock.<name>.toml) file');
        }
        return { path: join(project.dir, name), display: display(name), format };
    }
    const candidates = readdirSync(project.dir)
        .filter((f) => formatOf(f) !== null)
        .sort();
    if (candidates.length === 0) {
        throw new LockError('no lock file next to pyproject.toml (looked for poetry.lock, uv.lock, pylock.toml)', { file: project.file }, 'create one with `poetry lock`, `uv lock` or `pip lock`, and commit it');
    }
    if (candidates.length > 1) {
        throw new ConfigError(`several lock files next to pyproject.toml: ${candidates.join(', ')}`, { file: project.file, keyPath: 'tool.fast-build.lock' }, `say which one to use, e.g. lock = ${JSON.stringify(candidates[0])} under [tool.fast-build]`);
    }
    const name = candidates[0];
    return { path: join(project.dir, name), display: display(name), format: formatOf(name) };
}
function readLock(project) {
    const found = findLock(project);
    if (!existsSync(found.path)) {
        throw new LockError('lock file not found', { file: found.display }, 'create it with your package manager, or fix tool.fast-build.lock');
    }
    let cut = null;
    const { text, data } = readTomlFile(found.path, found.display, LockError, LOCK_HINT, found.format === 'poetry' ? (t) => (cut = cutPoetryFileArrays(t)).text : undefined);
    return fromToml(found.format, text, data, found.display, project, cut);
}
const LOCK_HINT = 'regenerate the lock with your package manager';
function fromToml(format, text, data, display, project, cut) {
    switch (format) {
        case 'poetry':
            return { lock: readPoetryLock(text, data, display, project, cut), notes: [] };
        case 'uv': {
            const { notes, ...lock } = readUvLock(text, data, display, project);
            return { lock, notes };
        }
        case 'pylock':
            return { lock: readPylock(text, data, display), notes: [] };
    }
}

// What the planner needs of the Dockerfile builder: its settings ([tool.fast-build] and the
// action's inputs, part of a variant's hash) and the generated default Dockerfile. They live with
// the project's configuration, below plan/, so that the planner reads them without loading the
// builder (pipeline/dockerfile.ts), and the builder takes them from here.
const DEFAULT_COMMAND = ['docker', 'buildx', 'build'];
/** Where the generated Dockerfile finds a pip wheel when the base image's Python has no pip. */
const PIP_CONTEXT_DIR = 'pip';
/**
 * The Dockerfile used when the project names none: the base image, then pip installs the pins,
 * nothing else. PIP_BREAK_SYSTEM_PACKAGES lets pip install into a distribution's Python (the image
 * is this environment's only user); PIP_ROOT_USER_ACTION silences the warning about root.
 *
 * The interpreter is the build arg FAST_BUILD_PYTHON (default `python3` on PATH): the builder
 * passes the one it found in the base image, which is a function of the pinned base digest the
 * hash already covers, so the text (hashed too) does not depend on it. A Python without pip (a
 * distribution's `python3` without `python3-pip`) gets it from the pip wheel the builder puts in
 * the context's `pip/` directory (empty otherwise): a wheel can run pip itself (`WHEEL/pip`), which
 * installs that wheel; ensurepip is often missing as well. `install` is no longer read: the
 * interpreter is the build arg's, not the install layout's.
 */
function defaultDockerfile(_install) {
    const env = 'PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1';
    const flags = '--no-deps --no-input --disable-pip-version-check --no-cache-dir';
    const pip = `${env} "$FAST_BUILD_PYTHON" -m pip install ${flags}`;
    return `# Generated by fast-build: a variant's deps image from the lock's pins, nothing else.
ARG FAST_BUILD_BASE
FROM \${FAST_BUILD_BASE}
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG FAST_BUILD_PYTHON=python3
COPY requirements-* /tmp/fast-build/
COPY ${PIP_CONTEXT_DIR}/ /tmp/fast-build/${PIP_CONTEXT_DIR}/
RUN set -e; slug="\${TARGETOS}-\${TARGETARCH}"; \\
    if ! "$FAST_BUILD_PYTHON" -m pip --version >/dev/null 2>&1; then \\
      whl="$(ls /tmp/fast-build/${PIP_CONTEXT_DIR}/pip-*.whl 2>/dev/null | head -n 1)"; \\
      if [ -z "$whl" ]; then \\
        echo "fast-build: $FAST_BUILD_PYTHON -m pip does not run, and the build context has no pip wheel" >&2; exit 1; \\
      fi; \\
      ${env} "$FAST_BUILD_PYTHON" "$whl/pip" install ${flags} --no-index "$whl"; \\
    fi; \\
    ${pip} --require-hashes -r "/tmp/fast-build/requirements-$slug.txt"; \\
    if grep -q '^[^#]' "/tmp/fast-build/requirements-vcs-$slug.txt"; then \\
      ${pip} -r "/tmp/fast-build/requirements-vcs-$slug.txt"; \\
    fi; \\
    rm -rf /tmp/fast-build
`;
}

// Which wheels a target interpreter accepts, and which one an installer picks.
//
// `supportedTags` is `packaging.tags.sys_tags()` as it would run on the target: a release (non-debug,
// GIL) CPython build of `target.python` on Linux, linked against the target's C library, with no
// `_manylinux` override module installed. The tests compare it, in order, with packaging's own
// functions run for the same target. The rules mirrored, with their sources in packaging 26.2:
//
// - tags.cpython_tags: `cpXY-cpXY-P` for every platform P, then `cpXY-abi3-P`, `cpXY-none-P`, then
//   `cpXW-abi3-P` for every older minor W down to 2 (abi3 came with 3.2). The ABI is `cpXY` from
//   3.8 on; before 3.8 pymalloc adds `m` (`cp37m`) and before 3.3 wide unicode adds `u`.
// - tags.compatible_tags with interpreter `cpXY`: `pyXY-none-P`, `pyX-none-P`, `pyXW-none-P` for
//   W = Y-1 … 0 (each for every P), then `cpXY-none-any`, then `pyXY-none-any`, `pyX-none-any`,
//   `pyXW-none-any`.
// - tags._linux_platforms: manylinux platforms, then musllinux ones, then `linux_<arch>`.
// - _manylinux.platform_tags: `manylinux_2_N_<arch>` for N from the glibc minor down to 17, or
//   down to 5 on x86_64 (and i686); the legacy alias follows its version right away:
//   manylinux2014 after 2_17, manylinux2010 after 2_12, manylinux1 after 2_5 (so aarch64 gets only
//   manylinux2014). A glibc older than that minimum gives no manylinux tag at all. For a glibc 3.x,
//   every 3.N down to 3.0 comes first, then 2.50 (packaging's guess of the last 2.x) downwards.
// - _musllinux.platform_tags: `musllinux_<major>_N_<arch>` for N from the musl minor down to 0.
/** Oldest glibc minor (of 2.x) with manylinux wheels per architecture; see `too_old_glibc2`. */
function minimumGlibcMinor(machine) {
    return machine === 'x86_64' || machine === 'i686' ? 5 : 17;
}
/** packaging's `_LAST_GLIBC_MINOR`: a guess for every past major, since glibc 3 does not exist yet. */
const LAST_GLIBC_MINOR = 50;
const LEGACY_MANYLINUX = new Map([
    ['2.17', 'manylinux2014'],
    ['2.12', 'manylinux2010'],
    ['2.5', 'manylinux1']
]);
/** The platform tags of a Linux target, most specific first (`_linux_platforms`). */
function platformTags(target) {
    const arch = machineOf(target.platform);
    const { family, major, minor } = target.libc;
    const out = [];
    if (family === 'glibc') {
        const maxima = [[major, minor]];
        for (let m = major - 1; m > 1; m--)
            maxima.push([m, LAST_GLIBC_MINOR]);
        for (const [glibcMajor, glibcMax] of maxima) {
            // Only 2.x has a floor; older minors of later majors all count (down to N.0).
            const floor = glibcMajor === 2 ? minimumGlibcMinor(arch) : 0;
            for (let n = glibcMax; n >= floor; n--) {
                out.push(`manylinux_${glibcMajor}_${n}_${arch}`);
                const legacy = LEGACY_MANYLINUX.get(`${glibcMajor}.${n}`);
                if (legacy)
                    out.push(`${legacy}_${arch}`);
            }
        }
    }
    else {
        for (let n = minor; n >= 0; n--)
            out.push(`musllinux_${major}_${n}_${arch}`);
    }
    out.push(`linux_${arch}`);
    return out;
}
/** The ABI of a release CPython build (`_cpython_abis` with Py_DEBUG off and the build defaults). */
function cpythonAbi(major, minor) {
    const nodot = `${major}${minor}`;
    if (major > 3 || (major === 3 && minor >= 8))
        return `cp${nodot}`;
    const wide = major < 3 || (major === 3 && minor < 3) ? 'u' : '';
    return `cp${nodot}m${wide}`;
}
/** Python versions for `py*` tags: `pyXY`, `pyX`, then `pyXW` for W = Y-1 … 0. */
function pyInterpreterRange(major, minor) {
    const out = [`py${major}${minor}`, `py${major}`];
    for (let w = minor - 1; w >= 0; w--)
        out.push(`py${major}${w}`);
    return out;
}
/** Every tag the target accepts, most preferred first, as `packaging.tags.sys_tags()` orders them there. */
function supportedTags(target) {
    const { major, minor } = target.python;
    const platforms = platformTags(target);
    const interpreter = `cp${major}${minor}`;
    const tags = [];
    const add = (i, abi, p) => {
        tags.push(`${i}-${abi}-${p}`);
    };
    // cpython_tags
    const abi3 = major > 3 || (major === 3 && minor >= 2);
    for (const p of platforms)
        add(interpreter, cpythonAbi(major, minor), p);
    if (abi3)
        for (const p of platforms)
            add(interpreter, 'abi3', p);
    for (const p of platforms)
        add(interpreter, 'none', p);
    if (abi3)
        for (let w = minor - 1; w > 1; w--)
            for (const p of platforms)
                add(`cp${major}${w}`, 'abi3', p);
    // compatible_tags
    const pys = pyInterpreterRange(major, minor);
    for (const py of pys)
        for (const p of platforms)
            add(py, 'none', p);
    add(interpreter, 'none', 'any');
    for (const py of pys)
        add(py, 'none', 'any');
    return tags;
}
function targetKey(target) {
    const { python, platform, libc } = target;
    return `${python.major}.${python.minor}/${platform.os}/${platform.architecture}/${libc.family}-${libc.major}.${libc.minor}`;
}
const rankCache = new Map();
// Callers pass the same Target object for thousands of files; skip building the key for them.
const rankByObject = new WeakMap();
/** Tag → position in `supportedTags(target)` (0 is best); built once per target. */
function tagRanks(target) {
    const known = rankByObject.get(target);
    if (known)
        return known;
    const key = targetKey(target);
    let ranks = rankCache.get(key);
    if (!ranks) {
        const m = new Map();
        supportedTags(target).forEach((t, i) => {
            if (!m.has(t))
                m.set(t, i);
        });
        ranks = m;
        rankCache.set(key, ranks);
    }
    rankByObject.set(target, ranks);
    return ranks;
}
/** The best (lowest) rank among a wheel's tags, or null when the target accepts none of them. */
function wheelRank(wheel, target) {
    const ranks = tagRanks(target);
    let best = null;
    for (const t of wheel.tags) {
        const r = ranks.get(t);
        if (r !== undefined && (best === null || r < best))
            best = r;
    }
    return best;
}
/** Whether the target can install the wheel of this file name (false for anything that is not a wheel). */
function wheelSupports(filename, target) {
    const wheel = parseWheelFilename(filename);
    return wheel !== null && wheelRank(wheel, target) !== null;
}
/**
 * The wheel an installer picks for the target among one release's files: the best-ranked
 * compatible tag wins; at equal rank the higher build tag wins (as in pip's candidate sort key);
 * then the smaller file name, so the choice never depends on the order of `files`. Files that
 * are not wheels, or not valid wheel names, are ignored. Null when no wheel fits.
 */
function chooseWheel(files, target) {
    let best = null;
    const ranks = tagRanks(target);
    for (const file of files) {
        if (!file.name.endsWith('.whl'))
            continue;
        // Most of a release's wheels are for other platforms or interpreters: look their tags up
        // before paying for a full, validating parse of the name.
        if (!mayFit(file.name, ranks))
            continue;
        const wheel = parseWheelFilename(file.name);
        if (!wheel)
            continue;
        const rank = wheelRank(wheel, target);
        if (rank === null)
            continue;
        if (best === null || better(rank, wheel, best))
            best = { file, wheel, rank };
    }
    return best;
}
const LINUX_OR_ANY = /linux|any\.whl$/i;
/** Whether any tag in the file name's tag triple is in `ranks` (a cheap, non-validating look). */
function mayFit(filename, ranks) {
    // Linux targets only accept linux platform tags or `any`; most rejected wheels stop here.
    if (!LINUX_OR_ANY.test(filename))
        return false;
    const fields = filename.slice(0, -4).toLowerCase().split('-');
    const n = fields.length;
    if (n !== 5 && n !== 6)
        return true; // let the full parse decide
    const platforms = fields[n - 1].split('.');
    const abis = fields[n - 2].split('.');
    for (const py of fields[n - 3].split('.')) {
        for (const abi of abis) {
            for (const plat of platforms)
                if (ranks.has(`${py}-${abi}-${plat}`))
                    return true;
        }
    }
    return false;
}
function better(rank, wheel, than) {
    if (rank !== than.rank)
        return rank < than.rank;
    const build = compareBuildTags(wheel.build, than.wheel.build);
    if (build !== 0)
        return build > 0;
    return compareCodePoints$1(wheel.filename, than.wheel.filename) < 0;
}

// Which wheel the wheels builder installs for each package on a target, or why it cannot (a git
// dependency, an sdist-only package, no wheel for the platform, no sha256 in the lock). Pure: the
// planner asks it to choose a builder (auto), the full path to install. Here in plan/, not in
// packaging/ with chooseWheel (one file list, one target): it reads the lock model (sources,
// locked files), and lock/ is above packaging/.
/** The wheel of each installed package on one target, or the reasons the variant cannot use wheels. */
function chooseWheels(packages, target) {
    const chosen = [];
    const problems = [];
    const platform = formatPlatform(target.platform);
    for (const pkg of packages) {
        const problem = (reason) => problems.push({ name: pkg.name, version: pkg.version, platform, reason });
        if (pkg.source.kind === 'git') {
            problem(`git source ${sourceLabel(pkg.source)}: it has to be built`);
            continue;
        }
        const wheel = chooseWheel(pkg.files, target);
        if (!wheel) {
            const sdists = pkg.files.filter((f) => f.kind === 'sdist').map((f) => f.name);
            if (sdists.length)
                problem(`only a source distribution (${sdists.join(', ')})`);
            else if (pkg.files.length === 0)
                problem(`the lock lists no files for it (${sourceLabel(pkg.source)})`);
            else
                problem(`no wheel for ${platform} / python ${target.python.major}.${target.python.minor} among ${pkg.files.length} files`);
            continue;
        }
        const sha256 = wheel.file.hashes['sha256'];
        if (!sha256) {
            problem(`the lock pins no sha256 for ${wheel.file.name}`);
            continue;
        }
        chosen.push({ pkg, file: wheel.file, sha256 });
    }
    return { chosen, problems };
}

// Content digests (`sha256:<hex>`) as a parsed type: once a string is a Digest, it has been
// checked, so registry paths and file names built from it are safe.
const PATTERNS = {
    sha256: /^[a-f0-9]{64}$/,
    sha512: /^[a-f0-9]{128}$/
};
class DigestError extends FastBuildError {
}
function isDigest(s) {
    if (typeof s !== 'string')
        return false;
    const colon = s.indexOf(':');
    const pattern = PATTERNS[s.slice(0, colon)];
    return pattern !== undefined && pattern.test(s.slice(colon + 1));
}
/** Parse and check a digest; `where` names what it came from for the error. */
function parseDigest(s, where = 'digest') {
    if (!isDigest(s)) {
        throw new DigestError(`${where}: ${JSON.stringify(s)} is not a digest (expected sha256:<64 hex digits>)`);
    }
    return s;
}
function digestHex(d) {
    return d.slice(d.indexOf(':') + 1);
}
function digestAlgorithm(d) {
    return d.slice(0, d.indexOf(':'));
}
function sha256(data) {
    return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
/** A running sha256 over chunks, finished into a Digest. */
class DigestWriter {
    hash = createHash('sha256');
    size = 0;
    update(chunk) {
        this.hash.update(chunk);
        this.size += chunk.length;
    }
    digest() {
        return `sha256:${this.hash.digest('hex')}`;
    }
}

const EMPTY = new Set();
/** Whether a marker's value can change with the active extras or groups. */
const readsSets = new WeakMap();
function dependsOnSelection(shared) {
    let v = readsSets.get(shared);
    if (v === undefined) {
        const vars = markerVariables(shared);
        v = vars.has('extra') || vars.has('extras') || vars.has('dependency_groups');
        readsSets.set(shared, v);
    }
    return v;
}
class TargetContext {
    target;
    env;
    fixed = new Map();
    envs = new WeakMap();
    files = new Map();
    constructor(target) {
        this.target = target;
        this.env = targetEnvironment(target);
    }
    /** The marker's value for this target with `extras` active (names already normalized). */
    evaluate(m, extras = EMPTY, groups = EMPTY) {
        // Results are kept by the shared marker (one per marker text), not by the located copy each
        // edge holds; evaluating the copy is what puts the lock's file and key path on an error.
        const shared = sharedMarker(m);
        if (!dependsOnSelection(shared)) {
            let v = this.fixed.get(shared);
            if (v === undefined) {
                v = evaluateMarker(m, this.env);
                this.fixed.set(shared, v);
            }
            return v;
        }
        return evaluateMarker(m, groups.size === 0 ? this.envWith(extras) : { ...this.env, extras, dependency_groups: groups });
    }
    envWith(extras) {
        let env = this.envs.get(extras);
        if (!env) {
            env = { ...this.env, extras };
            this.envs.set(extras, env);
        }
        return env;
    }
    /**
     * The files a package installs from here: the wheel an installer would pick, or, when no wheel
     * fits, the sdists (empty when neither exists).
     */
    installFiles(pkg) {
        let f = this.files.get(pkg);
        if (!f) {
            const wheel = chooseWheel(pkg.files, this.target);
            f = wheel ? [wheel.file] : pkg.files.filter((x) => x.kind === 'sdist');
            this.files.set(pkg, f);
        }
        return f;
    }
}

// The exact set of packages a selection installs on one target: walk the lock's graph from the
// roots through the selected groups and extras (Poetry, uv), or keep what the recorded markers
// select (pylock). Pure: lock + selection + target in, closure out.
const MAIN_GROUP = 'main';
/**
 * `context` carries per-target memos; pass the same one for every variant of a plan (it is
 * created from `target` when omitted).
 */
function computeClosure(lock, selection, target, context) {
    const ctx = context ?? new TargetContext(target);
    return lock.selection === 'markers'
        ? selectByMarkers(lock, selection, ctx)
        : walkGraph(lock, selection, ctx);
}
function walkGraph(lock, selection, ctx) {
    const roots = selectRoots(lock, selection);
    const state = lock.format === 'uv' ? walkUv(lock, roots, selection, ctx) : walkPoetry(lock, roots, selection, ctx);
    return toClosure(state, roots);
}
/** The selected extras that a root declares. */
function rootExtras(root, selection) {
    return selection.extras.filter((e) => root.extraNames.includes(e));
}
/**
 * Poetry: markers on a package's edges see that package's own active extras (`extra == "x"`
 * written by the depending package), so a package is walked again when an edge turns on more.
 */
function walkPoetry(lock, roots, selection, ctx) {
    const state = { chosen: new Map(), extras: new Map(), requiredBy: new Map() };
    const queue = [];
    const rootPackages = new Set(roots.map((r) => r.package));
    const activate = (pkg, extras, by) => {
        let set = state.extras.get(pkg);
        let changed = false;
        if (!set) {
            set = new Set();
            state.extras.set(pkg, set);
            state.requiredBy.set(pkg, by);
            changed = true;
        }
        for (const e of extras) {
            if (!set.has(e)) {
                set.add(e);
                changed = true;
            }
        }
        if (changed)
            queue.push(pkg);
    };
    const follow = (from, edges, active) => {
        for (const edge of edges) {
            if (edge.marker && !ctx.evaluate(edge.marker, active))
                continue;
            const to = resolveEdge(lock, from, edge, state, selection, ctx);
            const existing = state.chosen.get(to.name);
            if (existing && existing !== to)
                throw conflict(lock, to, existing, from, state, ctx.target, selection);
            state.chosen.set(to.name, to);
            activate(to, edge.extras, from.name);
        }
    };
    for (const root of roots) {
        state.chosen.set(root.name, root.package);
        activate(root.package, rootExtras(root, selection), root.name);
    }
    // Breadth first, so that what the project asks for directly decides among same-name packages
    // before anything deeper does.
    for (let i = 0; i < queue.length; i++) {
        const pkg = queue[i];
        const extras = state.extras.get(pkg);
        const active = new Set(extras);
        if (rootPackages.has(pkg)) {
            if (selection.groups.includes(MAIN_GROUP))
                follow(pkg, pkg.dependencies, active);
            for (const g of selection.groups) {
                const edges = pkg.groups.get(g);
                if (edges)
                    follow(pkg, edges, active);
            }
        }
        else {
            follow(pkg, pkg.dependencies, active);
        }
        for (const e of extras) {
            const edges = pkg.extras.get(e);
            if (edges)
                follow(pkg, edges, active);
        }
    }
    return state;
}
/**
 * uv, as its installer reads a lock (uv-resolver `Installable::to_resolution`). Markers in a uv
 * lock never name a package's own extras (those edges sit under `optional-dependencies`); the
 * only `extra` they test are the encoded conflict items (`extra-16-pydantic-ai-slim-mcp-tasks`,
 * `group-11-pydantic-ai-dev`, `project-3-foo`), which mean "this extra / group / project is on
 * anywhere in the environment". So, when the lock declares conflicts:
 * 1. the variant's extras and groups of each root are on from the start (its project too, when
 *    it installs main); the roots' group edges are decided against just those;
 * 2. a first breadth-first pass over (package, extra) collects every extra that edges turn on,
 *    each edge judged with the extras it turns on itself added (`foo[x]` guarded by
 *    `extra == 'extra-3-foo-x'` holds) — the set only grows;
 * 3. two items of one declared conflict set both on is an error (uv refuses to install them);
 * 4. a second pass judges every edge against that final set: this is the closure.
 * Without declared conflicts the set stays empty and the second pass is the whole walk.
 */
function walkUv(lock, roots, selection, ctx) {
    const declared = declaredConflicts(lock);
    const prod = selection.groups.includes(MAIN_GROUP);
    const active = new Set();
    /** Encoded item → what turned it on, for the conflict message. */
    const why = new Map();
    const turnOn = (encoded, by) => {
        if (active.has(encoded))
            return;
        active.add(encoded);
        why.set(encoded, by);
    };
    const groupsOf = (root) => selection.groups.filter((g) => g !== MAIN_GROUP && root.package.groups.has(g));
    if (declared) {
        for (const root of roots) {
            for (const e of rootExtras(root, selection))
                turnOn(conflictName(root.name, { extra: e }), '');
            for (const g of groupsOf(root))
                turnOn(conflictName(root.name, { group: g }), '');
            if (prod)
                turnOn(conflictName(root.name, {}), '');
        }
    }
    // uv decides the roots' group edges once, before any extra is collected from the graph.
    const groupEdges = new Map();
    for (const root of roots) {
        groupEdges.set(root, groupsOf(root).flatMap((g) => root.package.groups.get(g).filter((edge) => !edge.marker || ctx.evaluate(edge.marker, active))));
    }
    const pass = (holds, strict) => traverseUv(lock, roots, selection, ctx, prod, groupEdges, holds, strict);
    if (declared) {
        pass((from, extra, edge) => {
            const more = edge.extras
                .map((e) => conflictName(edge.name, { extra: e }))
                .filter((n) => !active.has(n));
            const env = more.length === 0 ? active : new Set([...active, ...more]);
            if (edge.marker && !ctx.evaluate(edge.marker, env))
                return false;
            for (const n of more)
                turnOn(n, extra ? `${from.name}[${extra}]` : from.name);
            return true;
        }, false);
        const clashes = declared.sets
            .map((set) => set.filter((item) => active.has(item.encoded)))
            .filter((on) => on.length > 1);
        if (clashes.length > 0)
            throw declaredConflict(lock, declared, clashes, why, selection);
    }
    return pass((_from, _extra, edge) => !edge.marker || ctx.evaluate(edge.marker, active), true);
}
/** One breadth-first pass over (package, extra|null), each visited once, as uv's queue does. */
function traverseUv(lock, roots, selection, ctx, prod, groupEdges, holds, 
/** Two packages of one name is an error (the final pass); the first pass may overreach. */
strict) {
    const state = { chosen: new Map(), extras: new Map(), requiredBy: new Map() };
    const queue = [];
    const seen = new Set();
    const enqueue = (pkg, extra) => {
        const key = `${pkg.id}\n${extra ?? ''}`;
        if (seen.has(key))
            return;
        seen.add(key);
        queue.push([pkg, extra]);
    };
    const take = (from, edge) => {
        const to = resolveEdge(lock, from, edge, state, selection, ctx);
        const existing = state.chosen.get(to.name);
        if (strict && existing && existing !== to)
            throw conflict(lock, to, existing, from, state, ctx.target, selection);
        state.chosen.set(to.name, to);
        let extras = state.extras.get(to);
        if (!extras) {
            state.extras.set(to, (extras = new Set()));
            state.requiredBy.set(to, from.name);
        }
        for (const e of edge.extras)
            extras.add(e);
        enqueue(to, null);
        for (const e of edge.extras)
            enqueue(to, e);
    };
    for (const root of roots) {
        const extras = rootExtras(root, selection);
        state.chosen.set(root.name, root.package);
        state.extras.set(root.package, new Set(extras));
        state.requiredBy.set(root.package, root.name);
        // Not marked seen: uv queues the roots directly (a cycle back to one walks it again, harmlessly).
        if (prod)
            queue.push([root.package, null]);
        for (const e of extras)
            queue.push([root.package, e]);
        for (const edge of groupEdges.get(root) ?? [])
            take(root.package, edge);
    }
    for (let i = 0; i < queue.length; i++) {
        const [pkg, extra] = queue[i];
        const edges = extra === null ? pkg.dependencies : (pkg.extras.get(extra) ?? []);
        for (const edge of edges)
            if (holds(pkg, extra, edge))
                take(pkg, edge);
    }
    return state;
}
function declaredConflict(lock, declared, clashes, why, selection) {
    const item = (i) => {
        const by = why.get(i.encoded);
        return `${describeConflictItem(i)}${by ? ` (turned on by ${by})` : ''}`;
    };
    return new PlanError(`${selection.variant ? `variant ${selection.variant} selects` : 'the selection turns on'} conflicting items: ${clashes.map((on) => on.map(item).join(' with ')).join('; ')}. The \`conflicts\` table of uv.lock (\`[tool.uv] conflicts\` in pyproject.toml) declares them as conflicting; uv refuses to install them together`, { file: lock.path, keyPath: 'conflicts', ...(declared.line ? { line: declared.line } : {}) }, 'drop one of them from the variant, or make two variants, one with each');
}
function selectRoots(lock, selection) {
    if (selection.members.length === 0)
        return [...lock.roots];
    return selection.members.map((m) => {
        const root = lock.roots.find((r) => r.name === m);
        if (root)
            return root;
        const pkg = lock.packages.find((p) => p.name === m && isLocalSource(p.source));
        if (!pkg) {
            const known = lock.packages.filter((p) => isLocalSource(p.source)).map((p) => p.name);
            throw new PlanError(`no workspace member named ${JSON.stringify(m)} in the lock`, { file: lock.path }, `members are: ${known.join(', ')}`);
        }
        return {
            name: m,
            package: pkg,
            groupNames: [MAIN_GROUP, ...pkg.groups.keys()],
            extraNames: [...pkg.extras.keys()]
        };
    });
}
/** Choose the locked package an edge means; several of one name are told apart step by step. */
function resolveEdge(lock, from, edge, state, selection, ctx) {
    const all = lock.byName.get(edge.name);
    if (all?.length === 1)
        return all[0];
    if (!all || all.length === 0) {
        // A dependency back on the project itself (a plugin requiring its host) is the root.
        const root = lock.roots.find((r) => r.name === edge.name);
        if (root)
            return root.package;
        // The lock does not agree with itself: a problem of the whole lock, not of this selection.
        throw new LockError(`${from.name} depends on ${edge.name}, which is not in the lock`, { file: lock.path, ...(from.line ? { line: from.line } : {}) }, lock.format === 'poetry'
            ? 'the lock is out of date: run `poetry lock`'
            : 'the lock is out of date: run `uv lock`');
    }
    let c = all;
    const narrow = (keep) => {
        const next = c.filter(keep);
        if (next.length > 0)
            c = next;
    };
    if (edge.pinVersion !== null)
        narrow((p) => p.version === edge.pinVersion);
    if (edge.pinSource !== null)
        narrow((p) => p.sourceRef === edge.pinSource);
    if (edge.sourceName !== null)
        narrow((p) => p.source.kind === 'registry' && p.source.name === edge.sourceName);
    if (edge.direct) {
        const d = edge.direct;
        narrow((p) => d.kind === 'git'
            ? p.source.kind === 'git' && sameUrl(p.source.url, d.url)
            : d.kind === 'url'
                ? p.source.kind === 'url' && sameUrl(p.source.url, d.url)
                : (p.source.kind === 'directory' || p.source.kind === 'file') && samePath(p.source.path, d.path));
    }
    if (edge.version)
        narrow((p) => p.version === null || edge.version.matches(p.version));
    if (c.length > 1) {
        // Poetry 2.1 records under which markers each package installs; drop those that do not apply.
        const extras = new Set(selection.extras);
        narrow((p) => recordedApplies(p, selection, ctx, extras));
    }
    if (c.length > 1) {
        const already = state.chosen.get(edge.name);
        if (already && c.includes(already))
            return already;
        throw new PlanError(`${c.length} locked packages named ${edge.name} fit ${from.name}'s requirement on ${describeTarget(ctx.target)}: ${c.map((p) => `${p.version ?? '(dynamic)'} from ${sourceLabel(p.source)}`).join(', ')}`, { file: lock.path, ...(c[0].line ? { line: c[0].line } : {}) }, 'the lock holds several candidates whose markers overlap for this platform; pin the source or version in pyproject.toml and re-lock');
    }
    return c[0];
}
function recordedApplies(p, selection, ctx, extras) {
    if (!p.recorded)
        return true;
    for (const g of selection.groups) {
        if (!p.recorded.byGroup.has(g))
            continue;
        const m = p.recorded.byGroup.get(g) ?? null;
        if (m === null || ctx.evaluate(m, extras))
            return true;
    }
    return false;
}
function sameUrl(a, b) {
    const norm = (u) => u
        .replace(/^git\+/, '')
        .replace(/\.git$/, '')
        .replace(/\/+$/, '')
        .toLowerCase();
    return norm(a) === norm(b);
}
function samePath(a, b) {
    const norm = (p) => p.replace(/^\.\//, '').replace(/\/+$/, '');
    return norm(a) === norm(b);
}
function conflict(lock, a, b, from, state, target, selection) {
    return new PlanError(`conflicting packages for ${a.name} on ${describeTarget(target)}: ${b.version ?? '(dynamic)'} from ${sourceLabel(b.source)} (required by ${state.requiredBy.get(b) ?? '?'}) and ${a.version ?? '(dynamic)'} from ${sourceLabel(a.source)} (required by ${from.name})${selection.variant ? `, both in variant ${selection.variant}` : ''}`, { file: lock.path, ...(a.line ? { line: a.line } : {}) }, 'both survive the markers for this target; the lock was not resolved for this platform or python, or the variant combines extras that conflict');
}
function toClosure(state, roots) {
    const rootSet = new Set(roots.map((r) => r.package));
    const installed = [];
    const local = [];
    for (const [pkg, extras] of state.extras) {
        const entry = { package: pkg, extras: [...extras].sort(), requiredBy: state.requiredBy.get(pkg) ?? '' };
        if (rootSet.has(pkg) || isLocalSource(pkg.source))
            local.push(entry);
        else
            installed.push(entry);
    }
    return { installed: installed.sort(byNameVersion), local: local.sort(byNameVersion) };
}
function byNameVersion(a, b) {
    const x = a.package;
    const y = b.package;
    return x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}
// --- marker selection (pylock) -------------------------------------------------------------------
function selectByMarkers(lock, selection, ctx) {
    const declared = lock.declared ?? { defaultGroups: [], environments: [] };
    const groups = new Set();
    for (const g of selection.groups) {
        if (g === MAIN_GROUP)
            declared.defaultGroups.forEach((d) => groups.add(d));
        else
            groups.add(g);
    }
    const extras = new Set(selection.extras);
    // PEP 751: the target must be one of the environments the lock was made for.
    if (declared.environments.length > 0 && !declared.environments.some((m) => ctx.evaluate(m))) {
        throw new PlanError(`the lock was not made for ${describeTarget(ctx.target)}: it lists environments ${declared.environments.map((m) => JSON.stringify(markerToString(m))).join(', ')}`, { file: lock.path, keyPath: 'environments' }, 'lock again including this platform, or build for a platform the lock covers');
    }
    const chosen = new Map();
    const installed = [];
    const local = [];
    for (const p of lock.packages) {
        const m = p.recorded?.byGroup.get('*') ?? null;
        if (m && !ctx.evaluate(m, extras, groups))
            continue;
        const requires = p.recorded?.requiresPython;
        if (requires && !requires.matches(pythonFull(ctx.target.python))) {
            throw new PlanError(`${p.name} ${p.version ?? ''} requires python ${requires.text}, but the target is ${describeTarget(ctx.target)}`, { file: lock.path, line: p.line }, 'choose a python the lock supports (python under [tool.fast-build]) or lock again');
        }
        const prev = chosen.get(p.name);
        if (prev) {
            throw new PlanError(`two packages named ${p.name} apply on ${describeTarget(ctx.target)}: ${prev.version ?? '?'} (line ${prev.line}) and ${p.version ?? '?'} (line ${p.line})`, { file: lock.path, line: p.line }, 'their markers overlap for this target; re-export the lock for the platforms you build');
        }
        chosen.set(p.name, p);
        const entry = { package: p, extras: [], requiredBy: '' };
        if (isLocalSource(p.source))
            local.push(entry);
        else
            installed.push(entry);
    }
    return { installed: installed.sort(byNameVersion), local: local.sort(byNameVersion) };
}
function describeTarget(t) {
    return `${formatPlatform(t.platform)} (python ${formatPython(t.python)})`;
}

// Canonical JSON: object keys sorted by code point, no whitespace, no undefined. The same value
// always gives the same bytes, which is what a content hash needs.
function canonicalJson(value) {
    if (value === null)
        return 'null';
    if (typeof value === 'string' || typeof value === 'boolean')
        return JSON.stringify(value);
    if (typeof value === 'number') {
        if (!Number.isFinite(value))
            throw new TypeError('canonical JSON has no NaN or Infinity');
        return JSON.stringify(value);
    }
    if (Array.isArray(value))
        return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
    if (typeof value === 'object') {
        const entries = Object.entries(value)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => compareCodePoints(a, b));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    throw new TypeError(`cannot put ${typeof value} in canonical JSON`);
}

// The canonical hash of a variant: what its deps image is a pure function of. Two plans with the
// same hash must install byte-identical packages on the same base image; anything else (lock
// formatting, order, descriptions, upload times, runtime groups, other variants, source code)
// must not move it. The README documents this definition; HASH_SCHEMA changes when it does.
const HASH_SCHEMA = 1;
/**
 * The files of a package that matter for a target: the wheel an installer would pick for it, or,
 * when no wheel fits, the source distributions. Other platforms' wheels, and wheels added to the
 * index later for other interpreters, do not matter and so do not enter the hash.
 */
function filesForTarget(files, target) {
    const wheel = chooseWheel(files, target);
    if (wheel)
        return [wheel.file];
    return files.filter((f) => f.kind === 'sdist');
}
/**
 * Why a locked package cannot be installed on a target from the files its lock entry lists (no
 * compatible wheel and no sdist), or null when it can. Planning reports this; the builders refuse.
 */
function unavailableReason(pkg, target, chosen = filesForTarget(pkg.files, target)) {
    if (pkg.files.length === 0 || (pkg.source.kind !== 'registry' && pkg.source.kind !== 'file'))
        return null;
    if (chosen.length > 0)
        return null;
    const wheels = pkg.files.filter((f) => f.kind === 'wheel').map((f) => f.name);
    return `no wheel for ${formatPlatform(target.platform)} / python ${formatPython(target.python)} / ${formatLibc(target.libc)} among ${wheels.length} (${wheels.slice(0, 2).join(', ')}${wheels.length > 2 ? ', …' : ''}) and no sdist`;
}
function hashesOf(files) {
    return files.map((f) => {
        const [alg, hex] = f.hashes['sha256']
            ? ['sha256', f.hashes['sha256']]
            : (Object.entries(f.hashes).sort()[0] ?? ['name', f.name]);
        return `${alg}:${hex}`;
    });
}
/**
 * What of a source enters the hash. URLs without userinfo: a credential says who may read the
 * package, not what it is, and rotating one must not rebuild anything. The lock readers strip it
 * already (keepUserinfo); this holds for models built elsewhere.
 */
function sourceIdentity(source, files) {
    switch (source.kind) {
        case 'registry':
            return { registry: normalizeIndex(withoutUserinfo(source.url)), files: hashesOf(files).sort() };
        case 'git':
            return {
                git: normalizeGitUrl(withoutUserinfo(source.url)),
                commit: source.commit,
                subdirectory: source.subdirectory
            };
        case 'url':
            return { url: withoutUserinfo(source.url), files: hashesOf(files).sort() };
        case 'file':
            return { path: source.path, files: hashesOf(files).sort() };
        case 'directory':
            // Never hashed: local packages ship with the source layer.
            return { path: source.path, files: [] };
    }
}
function packageIdentity(pkg, files) {
    return { name: pkg.name, version: pkg.version, source: sourceIdentity(pkg.source, files) };
}
/** `https://pypi.org/simple/` and `https://pypi.org/simple` are one index. */
function normalizeIndex(url) {
    const u = url.replace(/\/+$/, '');
    return u === 'https://pypi.org/simple' || u === 'https://pypi.python.org/simple' ? PYPI_SIMPLE : u;
}
function normalizeGitUrl(url) {
    return url.replace(/^git\+/, '').replace(/\/+$/, '');
}
function buildHashInput(args) {
    const platforms = {};
    for (const p of args.platforms) {
        // Closures hold one package per name, so the name orders them.
        platforms[formatPlatform(p.platform)] = [...p.packages].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    }
    return {
        schema: HASH_SCHEMA,
        python: formatPython(args.python),
        libc: formatLibc(args.libc),
        baseImage: args.baseImage,
        ...(args.epoch ? { epoch: args.epoch } : {}),
        ...(args.builder !== undefined ? { builder: args.builder } : {}),
        platforms
    };
}
// Identities are shared by every variant that installs the package; serialize each once.
const identityJson = new WeakMap();
/**
 * `canonicalJson(input)`, built from cached per-package pieces. Keys in canonical order:
 * baseImage, builder, epoch, libc, platforms, python, schema (a test holds the two equal).
 */
function hashInputJson(input) {
    const platforms = Object.keys(input.platforms)
        .sort()
        .map((p) => {
        const items = input.platforms[p].map((id) => {
            let json = identityJson.get(id);
            if (json === undefined)
                identityJson.set(id, (json = canonicalJson(id)));
            return json;
        });
        return `${JSON.stringify(p)}:[${items.join(',')}]`;
    });
    const head = [`"baseImage":${JSON.stringify(input.baseImage)}`];
    if (input.builder !== undefined)
        head.push(`"builder":${canonicalJson(input.builder)}`);
    if (input.epoch !== undefined)
        head.push(`"epoch":${JSON.stringify(input.epoch)}`);
    head.push(`"libc":${JSON.stringify(input.libc)}`);
    return `{${head.join(',')},"platforms":{${platforms.join(',')}},"python":${JSON.stringify(input.python)},"schema":${input.schema}}`;
}
/** sha256 of the canonical JSON of the hash input, in hex. */
function variantHash(input) {
    return createHash('sha256').update(hashInputJson(input), 'utf8').digest('hex');
}
/** The hash as it appears in tags (`deps-<variant>-<short>`): 16 hex digits, 64 bits. */
function shortHash(hash) {
    return hash.slice(0, 16);
}

// Project + lock → the plan: per variant, per platform, the closure and the canonical hash.
// Pure; reading files and printing happen in the CLI and the action.
/** `wheels`, or `dockerfile (why)`: the `builder` column of `fast-build plan`. */
function describeBuilder(b) {
    return b.kind === 'wheels' ? 'wheels' : `dockerfile (${b.summary})`;
}
/**
 * wheels and dockerfile are what they say; auto takes the wheels builder unless it refuses one
 * of the variant's packages (an sdist-only package, a git dependency…), and says which.
 */
function chooseBuilder(platforms, kind, settings, 
/** The wheels builder's objection to a platform's package, or null (memoized by the caller). */
refusal) {
    if (kind === 'wheels')
        return { kind: 'wheels' };
    if (kind === 'dockerfile')
        return { kind: 'dockerfile', reason: 'builder = dockerfile', summary: 'builder = dockerfile', settings };
    for (const p of platforms) {
        const problems = p.closure.installed.flatMap((e) => refusal(p, e.package) ?? []);
        const [first] = problems;
        if (first) {
            const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
            const what = `${first.name}${first.version ? ` ${first.version}` : ''}`;
            return {
                kind: 'dockerfile',
                reason: `the wheels builder cannot install ${what}: ${first.reason}${more}`,
                summary: `auto: no wheel for ${what}${problems.length > 1 ? ` and ${problems.length - 1} more` : ''}`,
                settings
            };
        }
    }
    return { kind: 'wheels' };
}
function installLayout(config, python) {
    const prefix = config.pythonPrefix;
    const minor = pythonMinor(python);
    const root = prefix === '/' ? '' : prefix;
    return {
        prefix,
        sitePackages: config.sitePackages ?? `${root}/lib/python${minor}/site-packages`,
        scripts: `${root}/bin`,
        interpreter: config.interpreter ?? `${root}/bin/python${minor}`
    };
}
const KNOWN_MINORS = [7, 8, 9, 10, 11, 12, 13, 14];
/** The lowest CPython 3.x minor that requires-python allows. */
function pythonFromRequiresPython(constraint) {
    for (const minor of KNOWN_MINORS) {
        // Any patch release of the minor will do: ">=3.10.2" still allows 3.10.
        for (const patch of [0, 99]) {
            if (constraint.matches(`3.${minor}.${patch}`))
                return { major: 3, minor, patch: undefined };
        }
    }
    return null;
}
function planProject(project, lock, options = {}) {
    const notes = [];
    const config = project.config;
    const python = options.python ?? config.python ?? derivePython(project, lock, notes);
    const allowed = project.pythonConstraint ?? (lock.requiresPython ? pep440Matcher(lock.requiresPython) : null);
    if (allowed && !allowed.matches(pythonFull(python))) {
        throw new ConfigError(`python ${formatPython(python)} is outside requires-python ${JSON.stringify(allowed.text)}`, { file: project.file, keyPath: config.python ? 'tool.fast-build.python' : undefined }, 'choose a python that requires-python allows, or widen requires-python and lock again');
    }
    const platforms = options.platforms && options.platforms.length > 0 ? options.platforms : config.platforms;
    const baseImage = baseImageFor(config, python, options);
    const wanted = options.variants && options.variants.length > 0 ? options.variants : null;
    if (wanted) {
        for (const v of wanted) {
            if (!config.variants.some((x) => x.name === v)) {
                throw new ConfigError(`unknown variant ${JSON.stringify(v)}`, { file: project.file, keyPath: 'tool.fast-build.variants' }, `variants are: ${config.variants.map((x) => x.name).join(', ')}`);
            }
        }
    }
    const specs = config.variants.filter((v) => !wanted || wanted.includes(v.name));
    const known = knownNames(project, lock);
    for (const g of config.runtimeGroups) {
        if (!known.groups.includes(g)) {
            throw new ConfigError(`unknown runtime group ${JSON.stringify(g)}`, { file: project.file, keyPath: 'tool.fast-build.runtime-groups' }, `groups are: ${known.groups.join(', ') || '(none)'}`);
        }
    }
    // One context per platform, shared by every variant: markers, wheel choices and identities
    // are worked out once per target rather than once per variant.
    const contexts = new Map(platforms.map((platform) => [platform, new TargetContext({ python, platform, libc: config.libc })]));
    const identities = new Map();
    const identity = (ctx, pkg) => {
        let m = identities.get(ctx);
        if (!m)
            identities.set(ctx, (m = new Map()));
        let id = m.get(pkg);
        if (!id)
            m.set(pkg, (id = packageIdentity(pkg, ctx.installFiles(pkg))));
        return id;
    };
    // The same per target: a package the wheels builder cannot install is looked at once, not once
    // per variant that has it (auto checks every package of every variant).
    const refusals = new Map();
    const refusal = (p, pkg) => {
        const ctx = contexts.get(p.platform);
        let m = refusals.get(ctx);
        if (!m)
            refusals.set(ctx, (m = new Map()));
        let r = m.get(pkg);
        if (r === undefined)
            m.set(pkg, (r = chooseWheels([pkg], ctx.target).problems[0] ?? null));
        return r;
    };
    const install = installLayout(config, python);
    const builderKind = options.builder ?? config.builder;
    const dockerfileSettings = {
        path: options.dockerfile?.path ?? null,
        text: options.dockerfile?.text ?? defaultDockerfile(),
        target: options.dockerfileTarget ?? config.dockerfile.target,
        buildArgs: config.dockerfile.buildArgs,
        command: options.dockerfileCommand ?? config.dockerfile.command ?? [...DEFAULT_COMMAND]
    };
    const failed = [];
    const planVariant = (spec) => {
        validateSelection(project, spec, known);
        const selection = {
            groups: spec.groups,
            extras: spec.extras,
            members: spec.members,
            variant: spec.name
        };
        const withRuntime = { ...selection, groups: [...spec.groups, ...config.runtimeGroups] };
        const platformPlans = platforms.map((platform) => {
            const ctx = contexts.get(platform);
            const target = ctx.target;
            const closure = computeClosure(lock, selection, target, ctx);
            const runtime = config.runtimeGroups.length === 0
                ? []
                : runtimeOnly(closure, computeClosure(lock, withRuntime, target, ctx));
            const unavailable = closure.installed.flatMap((entry) => {
                const reason = unavailableReason(entry.package, target, ctx.installFiles(entry.package));
                return reason ? [{ entry, reason }] : [];
            });
            return { platform, target, closure, runtime, unavailable };
        });
        const builder = chooseBuilder(platformPlans, builderKind, dockerfileSettings, refusal);
        const hashInput = buildHashInput({
            python,
            libc: config.libc,
            baseImage,
            epoch: options.epoch,
            // The Dockerfile builder's image is what its Dockerfile makes of the pins: its text, target
            // and build args are part of the hash (the engine is not: both build the same Dockerfile).
            builder: builder.kind === 'wheels'
                ? { wheels: install }
                : {
                    dockerfile: {
                        sha256: digestHex(sha256(builder.settings.text)),
                        target: builder.settings.target,
                        buildArgs: Object.entries(builder.settings.buildArgs).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
                    }
                },
            platforms: platformPlans.map((p) => ({
                platform: p.platform,
                packages: p.closure.installed.map((e) => identity(contexts.get(p.platform), e.package))
            }))
        });
        for (const p of platformPlans) {
            const disagreement = recordedDisagreement(lock, spec, selection, p, contexts.get(p.platform));
            if (disagreement)
                notes.push(disagreement);
            for (const u of p.unavailable) {
                notes.push(`${spec.name} on ${formatPlatform(p.platform)}: ${u.entry.package.name} ${u.entry.package.version ?? ''} cannot be installed from the lock's files: ${u.reason}`);
            }
        }
        const hash = variantHash(hashInput);
        return {
            name: spec.name,
            spec,
            hash,
            shortHash: shortHash(hash),
            python,
            libc: config.libc,
            baseImage,
            platforms: platformPlans,
            hashInput,
            builder
        };
    };
    const variants = [];
    for (const spec of specs) {
        try {
            variants.push(planVariant(spec));
        }
        catch (e) {
            // The variant's own selection cannot be planned; anything else (a lock that does not agree
            // with itself, a marker that does not parse) is the whole project's problem.
            if (!(e instanceof PlanError || e instanceof ConfigError))
                throw e;
            failed.push({ name: spec.name, error: forVariant(spec.name, e) });
        }
    }
    return { project, lock, options, install, variants, failed, notes };
}
/** The same error, its message naming the variant (`variant ml: …`) unless it already does. */
function forVariant(name, e) {
    const prefix = `variant ${name}`;
    const m = e.message;
    if (m.includes(`${prefix}:`) || m.includes(`${prefix} `) || m.endsWith(prefix))
        return e;
    const Class = e.constructor;
    const wrapped = new Class(`${prefix}: ${e.message}`, e.location, e.hint);
    wrapped.stack = e.stack;
    return wrapped;
}
/**
 * Poetry 2.1 locks record under which markers each package installs for each group. Poetry's
 * installer re-resolves from the graph by default (installer.re-resolve = true), as fast-build's
 * walk does, and reads the recorded markers only with re-resolve = false; where the two disagree
 * for a target, the user should know that the other setting installs something else.
 * Several packages of one name that the recorded markers all select are left out: the walk chose
 * among them (using those same markers first), which is not a disagreement.
 */
function recordedDisagreement(lock, spec, selection, p, ctx) {
    if (lock.format !== 'poetry' || !lock.packages.some((x) => x.recorded))
        return null;
    const extras = new Set(selection.extras);
    const recorded = lock.packages.filter((pkg) => {
        if (!pkg.recorded || isLocalSource(pkg.source))
            return false;
        return selection.groups.some((g) => {
            if (!pkg.recorded.byGroup.has(g))
                return false;
            const m = pkg.recorded.byGroup.get(g) ?? null;
            return m === null || ctx.evaluate(m, extras);
        });
    });
    const walked = new Set(p.closure.installed.map((e) => e.package));
    const walkedNames = new Set(p.closure.installed.map((e) => e.package.name));
    const recordedSet = new Set(recorded);
    const perName = new Map();
    for (const pkg of recorded)
        perName.set(pkg.name, (perName.get(pkg.name) ?? 0) + 1);
    const chosenAmong = (pkg) => perName.get(pkg.name) > 1 && walkedNames.has(pkg.name);
    const onlyRecorded = recorded.filter((pkg) => !walked.has(pkg) && !chosenAmong(pkg));
    const onlyWalked = [...walked].filter((pkg) => !recordedSet.has(pkg));
    if (onlyRecorded.length === 0 && onlyWalked.length === 0)
        return null;
    const some = (list) => {
        const names = list.slice(0, 3).map((pkg) => `${pkg.name} ${pkg.version ?? ''}`.trim());
        return list.length > 3 ? `${names.join(', ')} and ${list.length - 3} more` : names.join(', ');
    };
    const details = [
        ...(onlyWalked.length ? [`only the walk: ${some(onlyWalked)}`] : []),
        ...(onlyRecorded.length ? [`only the recorded markers: ${some(onlyRecorded)}`] : [])
    ];
    return (`variant ${spec.name} on ${formatPlatform(p.platform)}: ${lock.path}'s recorded markers select ${recorded.length} packages where the dependency walk installs ${walked.size} (${details.join('; ')}). ` +
        `Poetry's installer re-resolves by default, as fast-build does; the recorded markers are used only with installer.re-resolve = false`);
}
/** The base image a plan targets: as asked, else [tool.fast-build] base-image, else python's slim image. */
function baseImageFor(config, python, options) {
    return options.baseImage ?? config.baseImage ?? `python:${pythonMinor(python)}-slim`;
}
/** The lowest python requires-python allows (a note says so); a ConfigError when it allows none. */
function derivePython(project, lock, notes) {
    const spec = project.requiresPython ?? lock.requiresPython;
    const from = project.requiresPython
        ? `requires-python ${JSON.stringify(spec)} in ${project.file}`
        : `requires-python ${JSON.stringify(spec)} in ${lock.path}`;
    const constraint = project.pythonConstraint ?? (lock.requiresPython ? pep440Matcher(lock.requiresPython) : null);
    const v = constraint ? pythonFromRequiresPython(constraint) : null;
    if (!v) {
        throw new ConfigError(spec
            ? `cannot choose a python version: ${from} allows none of 3.${KNOWN_MINORS[0]}–3.${KNOWN_MINORS.at(-1)}`
            : 'no target python: neither [tool.fast-build] python nor requires-python is set', { file: project.file, keyPath: 'tool.fast-build.python' }, 'set python = "3.12" (or "3.12.7") under [tool.fast-build]');
    }
    notes.push(`python ${formatPython(v)}: the lowest version ${from} allows (set python under [tool.fast-build] to choose another)`);
    return v;
}
function knownNames(project, lock) {
    const groups = new Set([MAIN_GROUP]);
    const extras = new Set();
    if (lock.declared) {
        lock.declared.groups.forEach((g) => groups.add(g));
        lock.declared.extras.forEach((e) => extras.add(e));
    }
    for (const r of lock.roots) {
        r.groupNames.forEach((g) => groups.add(g));
        r.extraNames.forEach((e) => extras.add(e));
    }
    for (const g of project.groups.keys())
        groups.add(g);
    for (const e of project.extras.keys())
        extras.add(e);
    // Workspace members' own groups and extras can be selected through `members`.
    for (const p of lock.packages) {
        if (!isLocalSource(p.source))
            continue;
        for (const g of p.groups.keys())
            groups.add(g);
        for (const e of p.extras.keys())
            extras.add(e);
    }
    return { groups: [...groups].sort(), extras: [...extras].sort() };
}
function validateSelection(project, spec, known) {
    const at = `tool.fast-build.variants.${spec.name}`;
    for (const g of spec.groups) {
        if (!known.groups.includes(normalizeGroup(g))) {
            throw new ConfigError(`variant ${spec.name}: unknown group ${JSON.stringify(g)}`, { file: project.file, keyPath: `${at}.groups` }, `groups are: ${known.groups.join(', ')}`);
        }
    }
    for (const e of spec.extras) {
        if (!known.extras.includes(normalizeGroup(e))) {
            throw new ConfigError(`variant ${spec.name}: unknown extra ${JSON.stringify(e)}`, { file: project.file, keyPath: `${at}.extras` }, known.extras.length ? `extras are: ${known.extras.join(', ')}` : 'the project declares no extras');
        }
    }
}
function runtimeOnly(base, withRuntime) {
    const have = new Set(base.installed.map((e) => e.package));
    return withRuntime.installed.filter((e) => !have.has(e.package));
}
function packageJson(e, target) {
    const p = e.package;
    const [file] = filesForTarget(p.files, target);
    const unavailable = unavailableReason(p, target);
    return {
        name: p.name,
        version: p.version,
        source: sourceLabel(p.source),
        ...(file ? { file: file.name } : {}),
        ...(file?.hashes['sha256'] ? { sha256: file.hashes['sha256'] } : {}),
        ...(unavailable ? { unavailable } : {})
    };
}
function planToJson(plan) {
    return {
        schema: 1,
        project: plan.project.file,
        lock: plan.lock.path,
        variants: plan.variants.map((v) => {
            const local = new Map();
            const runtime = new Map();
            for (const p of v.platforms) {
                for (const e of p.closure.local) {
                    const path = e.package.source.kind === 'directory' ? e.package.source.path : '.';
                    local.set(e.package.id, { name: e.package.name, version: e.package.version, path });
                }
                for (const e of p.runtime)
                    runtime.set(e.package.id, packageJson(e, p.target));
            }
            return {
                name: v.name,
                hash: v.hash,
                python: formatPython(v.python),
                baseImage: v.baseImage,
                groups: [...v.spec.groups],
                extras: [...v.spec.extras],
                platforms: v.platforms.map((p) => ({
                    platform: formatPlatform(p.platform),
                    packages: p.closure.installed.map((e) => packageJson(e, p.target))
                })),
                local: [...local.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
                runtime: [...runtime.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
            };
        }),
        failed: plan.failed.map((f) => ({ name: f.name, error: describeError(f.error) }))
    };
}

// The project's Dockerfile, read for the planner (its text is part of a Dockerfile-built
// variant's hash). The one place it is read from disk; a missing one names itself and the fix.
/** `path` (relative to the project), else [tool.fast-build] dockerfile; null when neither names one. */
function readDockerfile(project, path = null, keyPath = 'tool.fast-build.dockerfile') {
    const given = path ?? project.config.dockerfile.path;
    if (given === null)
        return null;
    const full = isAbsolute(given) ? given : join(project.dir, given);
    try {
        return { path: given, text: readFileSync(full, 'utf8') };
    }
    catch (e) {
        throw new ConfigError(`cannot read the Dockerfile ${given}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { file: project.file, keyPath }, 'give a path relative to the project directory, or leave dockerfile out for the generated one');
    }
}

// What the CLI's commands share: where they write (CliIO), the error that means "wrong flags"
// (UsageError, printed with the usage text), and the plan they read from --project, --variant,
// --platform, --python and the builder flags (loadPlan). Apart from cli.ts so that `build`
// (cli-build.ts, loaded on demand by cli.ts) takes them without importing its own loader.
class UsageError extends Error {
}
/** The project, its lock and the flags as plan options: what `build` plans from (once, base pinned). */
function planInputOf(opts) {
    const dir = resolve(opts.project);
    const project = readProject(dir, opts.project === '.' ? undefined : opts.project);
    const { lock, notes } = readLock(project);
    if (opts.builder !== undefined && !BUILDERS.includes(opts.builder))
        throw new UsageError(`--builder must be one of ${BUILDERS.join(', ')}`);
    const command = opts.dockerfileCommand?.split(/\s+/).filter((w) => w !== '');
    if (command !== undefined && command.length === 0)
        throw new UsageError('--dockerfile-command is empty');
    const options = {
        variants: opts.variants ?? [],
        platforms: (opts.platforms ?? []).map((p) => parsePlatform(p, '--platform')),
        ...(opts.python ? { python: parsePythonVersion(opts.python, '--python') } : {}),
        ...(opts.builder ? { builder: opts.builder } : {}),
        dockerfile: readDockerfile(project, opts.dockerfile ?? null, '--dockerfile'),
        ...(opts.dockerfileTarget ? { dockerfileTarget: opts.dockerfileTarget } : {}),
        ...(command ? { dockerfileCommand: command } : {})
    };
    return { project, lock, options, notes };
}
function loadPlan(opts) {
    const { project, lock, options, notes } = planInputOf(opts);
    const plan = planProject(project, lock, options);
    return { ...plan, notes: [...notes, ...plan.notes] };
}

function diffPackages(before, after) {
    const a = new Map(before.map((p) => [p.name, p]));
    const b = new Map(after.map((p) => [p.name, p]));
    const changes = [];
    for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
        const x = a.get(name);
        const y = b.get(name);
        if (!x && y)
            changes.push({ kind: 'added', name, version: y.version });
        else if (x && !y)
            changes.push({ kind: 'removed', name, version: x.version });
        else if (x && y) {
            if (x.version !== y.version)
                changes.push({ kind: 'version', name, from: x.version, to: y.version });
            else if (x.source !== y.source)
                changes.push({ kind: 'source', name, version: y.version, from: x.source, to: y.source });
            else if ((x.sha256 ?? x.file) !== (y.sha256 ?? y.file)) {
                changes.push({
                    kind: 'file',
                    name,
                    version: y.version,
                    from: x.file ?? x.sha256 ?? '?',
                    to: y.file ?? y.sha256 ?? '?'
                });
            }
        }
    }
    return changes;
}
function diffVariant(name, before, after) {
    const settings = [];
    if (before && after) {
        if (before.python !== after.python)
            settings.push(`python ${before.python} → ${after.python}`);
        if (before.baseImage !== after.baseImage)
            settings.push(`base image ${before.baseImage} → ${after.baseImage}`);
    }
    const platforms = [];
    const names = [
        ...new Set([...(before?.platforms ?? []), ...(after?.platforms ?? [])].map((p) => p.platform))
    ];
    for (const platform of names) {
        const x = before?.platforms.find((p) => p.platform === platform);
        const y = after?.platforms.find((p) => p.platform === platform);
        if (before && after && !x)
            settings.push(`+ platform ${platform}`);
        if (before && after && !y)
            settings.push(`- platform ${platform}`);
        platforms.push({ platform, changes: diffPackages(x?.packages ?? [], y?.packages ?? []) });
    }
    const status = !before ? 'added' : !after ? 'removed' : before.hash === after.hash ? 'unchanged' : 'changed';
    return {
        variant: name,
        status,
        oldHash: before?.hash ?? null,
        newHash: after?.hash ?? null,
        settings,
        platforms
    };
}
function diffPlans(before, after) {
    const failed = new Map((after.failed ?? []).map((f) => [f.name, f.error]));
    const names = [
        ...new Set([
            ...before.variants.map((v) => v.name),
            ...after.variants.map((v) => v.name),
            ...failed.keys()
        ])
    ];
    return names.map((n) => {
        const d = diffVariant(n, before.variants.find((v) => v.name === n), after.variants.find((v) => v.name === n));
        // A variant the new plan could not plan is not "removed": say that it failed, and why.
        const error = failed.get(n);
        return error === undefined ? d : { ...d, status: 'failed', newHash: null, platforms: [], error };
    });
}
function describeChange(c) {
    switch (c.kind) {
        case 'added':
            return `+ ${c.name} ${c.version ?? ''}`.trim();
        case 'removed':
            return `- ${c.name} ${c.version ?? ''}`.trim();
        case 'version':
            return `${c.name} ${c.from ?? '(dynamic)'} → ${c.to ?? '(dynamic)'}`;
        case 'source':
            return `${c.name} ${c.version ?? ''} source ${c.from} → ${c.to}`;
        case 'file':
            return `${c.name} ${c.version ?? ''} file ${c.from} → ${c.to}`;
    }
}
/**
 * One line per variant, the changes merged over platforms (a change on every platform is shown
 * once; one on some platforms names them).
 */
function summarizeVariantDiff(d) {
    if (d.status === 'added')
        return ['new variant'];
    if (d.status === 'removed')
        return ['variant removed'];
    if (d.status === 'failed')
        return [`does not plan: ${(d.error ?? '').split('\n')[0]}`];
    const lines = [...d.settings];
    const seen = new Map();
    for (const p of d.platforms) {
        for (const c of p.changes) {
            const text = describeChange(c);
            seen.set(text, [...(seen.get(text) ?? []), p.platform]);
        }
    }
    for (const [text, platforms] of seen) {
        lines.push(platforms.length === d.platforms.length ? text : `${text} (${platforms.join(', ')})`);
    }
    if (lines.length === 0 && d.status === 'changed')
        lines.push('hash inputs changed (schema, libc or cache epoch)');
    return lines;
}

// Plain-text tables for terminals: left-aligned columns, two spaces apart.
function renderTable(header, rows) {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells) => cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd();
    return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

// Kept in step with package.json by the release script (and a test).
const VERSION = '0.1.0';

// The same engine as the action, for a terminal: `fast-build plan | build | diff | sbom`.
const processIO = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t)
};
const USAGE = `usage: fast-build <command> [options]

commands:
  plan    compute each variant's packages and canonical hash from the lock
  build   put the source on each variant's deps image (the fast path), without a daemon
  diff    explain what changed between two plans (from \`plan --json\`)
  sbom    print the CycloneDX SBOM of what each variant's image installs, without building

fast-build plan [--project DIR] [--variant NAME]... [--platform P]... [--python X.Y] [--json]
  --project DIR     directory holding pyproject.toml and the lock (default .)
  --variant NAME    only this variant (repeatable; default: all in [tool.fast-build.variants])
  --platform P      linux/amd64 or linux/arm64 (repeatable; default from [tool.fast-build])
  --python X.Y      target interpreter (default from [tool.fast-build] or requires-python)
  --json            print the plan as JSON

fast-build build [--project DIR] [--store oci:DIR | --registry HOST/REPO] [--variant NAME]...
                 [--platform P]... [--tag TEMPLATE]... [--rebuild VARIANT|all]... [--fast-only] [--json]
  --store oci:DIR   an OCI image-layout directory (default: ~/.cache/fast-build/oci/<project-id>)
  --registry H/R    a registry repository, e.g. ghcr.io/acme/app or 127.0.0.1:5000/demo
  --tag TEMPLATE    app image tag, with {variant} {sha} {ref} (repeatable; default {variant}-{sha})
  --rebuild V       rebuild the deps image of variant V (or all) whatever exists (repeatable)
  --fast-only       never build a deps image: report a missing one (exit 1) instead
  --source MODE     which files form the source layer: git-tracked, a directory walk, or auto
  --cache-dir DIR   downloads, installs and built layers (default ~/.cache/fast-build)
  --index-url URL   fetch every registry file from this index (a mirror); hashes stay the lock's
  --builder B       auto (default: wheels where they can), wheels, or dockerfile
  --dockerfile F    the Dockerfile for the Dockerfile builder (default: [tool.fast-build], else generated)
  --dockerfile-target T, --dockerfile-command "buildah bud --network host"
                    its build stage, and the command that builds (default docker buildx build)
  credentials: FAST_BUILD_REGISTRY_USERNAME and FAST_BUILD_REGISTRY_PASSWORD, else the Docker
  config file (docker login); never on the command line

fast-build diff OLD.json NEW.json [--json]

fast-build sbom [--project DIR] [--variant NAME]... [--platform P]... [--python X.Y] [--json]
  --variant NAME    only this variant (repeatable; default: all that plan)
  --platform P      only this platform of the variant (repeatable; default: all it builds)
  --json            the only format (CycloneDX 1.6 JSON); accepted for symmetry with plan
  one variant on one platform prints one document; several print a JSON array of them, in
  variant then platform order. The base image's digest is the pinned one (base-image = "…@sha256:…")
  or, when it is not pinned, left out and said so (sbom asks no registry); times come from
  SOURCE_DATE_EPOCH or the commit time, as the build's, so the same commit prints the same bytes
`;
async function runCli(argv, io = processIO) {
    const [command, ...rest] = argv;
    try {
        switch (command) {
            case 'plan':
                return cmdPlan(rest, io);
            case 'diff':
                return cmdDiff(rest, io);
            case 'sbom':
                return await cmdSbom(rest, io);
            case 'build':
                // The build machinery (registry, layers, wheels) is loaded only for `build`, so `plan`
                // starts without it.
                return await (await import('./cli-build.js')).cmdBuild(rest, io);
            case '--version':
            case 'version':
                io.out(`fast-build ${VERSION}\n`);
                return 0;
            case undefined:
            case '-h':
            case '--help':
            case 'help':
                io.out(USAGE);
                return command === undefined ? 2 : 0;
            default:
                throw new UsageError(`unknown command ${JSON.stringify(command)}`);
        }
    }
    catch (e) {
        // node:util parseArgs throws errors with ERR_PARSE_ARGS_* codes for unknown or bad flags.
        const code = e?.code;
        if (e instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
            io.err(`fast-build: ${e.message}\n\n${USAGE}`);
            return 2;
        }
        if (isFastBuildError(e)) {
            io.err(`error: ${describeError(e)}\n`);
            return 1;
        }
        // Not ours: still no stack trace for the user, but enough to report it.
        io.err(`internal error: ${describeError(e)}\n(this is a bug in fast-build; please report it with the command you ran)\n`);
        if (process.env['FAST_BUILD_DEBUG'] && e instanceof Error)
            io.err(`${e.stack}\n`);
        return 1;
    }
}
/** The flags `plan` and `sbom` share: which project, variants, platforms and python. */
function parsePlanArgs(args) {
    const { values, positionals } = parseArgs({
        args: [...args],
        options: {
            project: { type: 'string', default: '.' },
            variant: { type: 'string', multiple: true },
            platform: { type: 'string', multiple: true },
            python: { type: 'string' },
            json: { type: 'boolean', default: false }
        },
        allowPositionals: true
    });
    if (positionals.length > 0)
        throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return values;
}
function cmdPlan(args, io) {
    const values = parsePlanArgs(args);
    const plan = loadPlan({
        project: values.project,
        variants: values.variant ?? [],
        platforms: values.platform ?? [],
        ...(values.python ? { python: values.python } : {})
    });
    for (const n of plan.notes)
        io.err(`note: ${n}\n`);
    if (values.json) {
        io.out(JSON.stringify(planToJson(plan), null, 2) + '\n');
    }
    else if (plan.variants.length > 0) {
        const rows = plan.variants.flatMap((v) => v.platforms.map((p) => [
            v.name,
            formatPlatform(p.platform),
            v.shortHash,
            String(p.closure.installed.length),
            p.closure.local.map((e) => e.package.name).join(',') || '-',
            p.runtime.length ? String(p.runtime.length) : '-',
            describeBuilder(v.builder)
        ]));
        io.out(renderTable(['variant', 'platform', 'hash', 'packages', 'local', 'runtime', 'builder'], rows));
    }
    // The variants that planned are printed first; each one that did not says why, and the run fails.
    for (const f of plan.failed)
        io.err(`error: ${describeError(f.error)}\n`);
    return plan.failed.length > 0 ? 1 : 0;
}
function readPlanJson(path) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch (e) {
        throw new ConfigError(`cannot read plan (${e.code ?? String(e)})`, { file: path }, 'write one with `fast-build plan --json > FILE`');
    }
    let data;
    try {
        data = JSON.parse(text);
    }
    catch (e) {
        throw new ConfigError(`not JSON: ${e.message}`, { file: path }, 'write one with `fast-build plan --json > FILE`');
    }
    if (typeof data !== 'object' || data === null || !Array.isArray(data.variants)) {
        throw new ConfigError('not a fast-build plan (no "variants" list)', { file: path }, 'write one with `fast-build plan --json > FILE`');
    }
    return data;
}
function cmdDiff(args, io) {
    const { values, positionals } = parseArgs({
        args: [...args],
        options: { json: { type: 'boolean', default: false } },
        allowPositionals: true
    });
    if (positionals.length !== 2)
        throw new UsageError('diff needs two plan files: OLD.json NEW.json');
    const diffs = diffPlans(readPlanJson(positionals[0]), readPlanJson(positionals[1]));
    if (values.json) {
        io.out(JSON.stringify(diffs, null, 2) + '\n');
        return 0;
    }
    for (const d of diffs) {
        const hashes = d.oldHash && d.newHash && d.oldHash !== d.newHash
            ? ` (${d.oldHash.slice(0, 16)} → ${d.newHash.slice(0, 16)})`
            : '';
        io.out(`${d.variant}: ${d.status}${hashes}\n`);
        for (const line of summarizeVariantDiff(d))
            io.out(`  ${line}\n`);
    }
    return 0;
}
async function cmdSbom(args, io) {
    // --json is accepted and changes nothing: JSON is the one format.
    const values = parsePlanArgs(args);
    // Every configured platform is planned, so that --platform picks among them (and names them
    // when it names none); an unknown --variant is refused by planProject with the list.
    const plan = loadPlan({
        project: values.project,
        variants: values.variant ?? [],
        ...(values.python ? { python: values.python } : {})
    });
    for (const n of plan.notes)
        io.err(`note: ${n}\n`);
    const wanted = (values.platform ?? []).map((p) => formatPlatform(parsePlatform(p, '--platform')));
    const built = [...new Set(plan.variants.flatMap((v) => v.platforms.map((p) => formatPlatform(p.platform))))];
    for (const w of wanted) {
        if (!built.includes(w)) {
            throw new ConfigError(`platform ${w} is not built by ${plan.variants.length === 1 ? `variant ${plan.variants[0].name}` : 'these variants'}`, { file: plan.project.file, keyPath: 'tool.fast-build.platforms' }, `platforms are: ${built.join(', ')} (add ${w} to platforms under [tool.fast-build] to build it)`);
        }
    }
    const [{ cycloneDxSbom, sbomBytes }, { buildEpoch, gitInfo }] = await Promise.all([
        import('./cyclonedx.js'),
        import('./git.js')
    ]);
    // The build's time, as `build` stamps images: SOURCE_DATE_EPOCH, else the commit's.
    const created = new Date(buildEpoch(await gitInfo(plan.project.dir)) * 1000).toISOString();
    const name = plan.project.name ?? basename(plan.project.dir);
    const docs = plan.variants.flatMap((v) => v.platforms
        .filter((p) => wanted.length === 0 || wanted.includes(formatPlatform(p.platform)))
        .map((p) => cycloneDxSbom({ variant: v, platform: p, created, name })));
    // One document prints as the bytes `build` attaches (sbomBytes), so the two can be compared.
    const [only] = docs;
    io.out(only && docs.length === 1 ? sbomBytes(only).toString('utf8') : JSON.stringify(docs, null, 2) + '\n');
    // As `plan`: the variants that planned are printed; each one that did not says why, and the run fails.
    for (const f of plan.failed)
        io.err(`error: ${describeError(f.error)}\n`);
    return plan.failed.length > 0 ? 1 : 0;
}

// `fast-build` executable: run the CLI and exit with its code.
module$1.enableCompileCache?.();
runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
}, (e) => {
    process.stderr.write(`internal error: ${String(e)}\n`);
    process.exitCode = 1;
});

export { canonicalJson as $, specifierSetContains as A, compareVersions as B, ConfigError as C, DigestWriter as D, redactUrl as E, FastBuildError as F, resolveIndexCredential as G, describeIndexCredential as H, basicAuthorization as I, credentialEnvNames as J, splitUserinfo as K, PIP_CONTEXT_DIR as L, indexConfigFor as M, pythonFull as N, digestAlgorithm as O, PYPI_SIMPLE as P, parseToml as Q, planProject as R, derivePython as S, TomlReader as T, baseImageFor as U, chooseWheels as V, planInputOf as W, UsageError as X, renderTable as Y, isDigest as Z, VERSION as _, formatPlatform as a, sourceLabel as a0, wheelSupports as b, parseWheelFilename as c, digestHex as d, pythonMinor as e, filesForTarget as f, formatPython as g, isValidName as h, isTable as i, parseVersion as j, poetryToPep440 as k, formatRequirement as l, parseRequirement as m, normalizeName as n, normalizeExtra as o, parseDigest as p, pythonConstraintMarker as q, andMarkers as r, sha256 as s, parseMarker as t, unavailableReason as u, versionToString as v, withoutUserinfo as w, readTomlFile as x, describeError as y, isPrerelease as z };

'use strict';

var node_fs = require('node:fs');
var node_path = require('node:path');
var node_util = require('node:util');
var node_os = require('node:os');
var node_perf_hooks = require('node:perf_hooks');
var node_crypto = require('node:crypto');
var promises = require('node:fs/promises');
var node_events = require('node:events');
var zlib = require('node:zlib');
var node_child_process = require('node:child_process');
var node_stream = require('node:stream');
var http = require('node:http');
var https = require('node:https');
var node_url = require('node:url');

function _interopNamespaceDefault(e) {
    var n = Object.create(null);
    if (e) {
        Object.keys(e).forEach(function (k) {
            if (k !== 'default') {
                var d = Object.getOwnPropertyDescriptor(e, k);
                Object.defineProperty(n, k, d.get ? d : {
                    enumerable: true,
                    get: function () { return e[k]; }
                });
            }
        });
    }
    n.default = e;
    return Object.freeze(n);
}

var zlib__namespace = /*#__PURE__*/_interopNamespaceDefault(zlib);
var http__namespace = /*#__PURE__*/_interopNamespaceDefault(http);
var https__namespace = /*#__PURE__*/_interopNamespaceDefault(https);

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
/** `text` with the userinfo of every `scheme://\u2026@` in it removed. */
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
        text = node_fs.readFileSync(path, 'utf8');
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
        return `the string ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '\u2026' : s)}`;
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
function pyStrip$1(s) {
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
        const s = pyStrip$1(text);
        const len = s.startsWith('===') ? 3 : /^(?:~=|==|!=|<=|>=)/.test(s) ? 2 : 1;
        spec = { operator: s.slice(0, len), version: pyStrip$1(s.slice(len)) };
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
        if (pyStrip$1(part) === '')
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
            .replace(/([<>=!~^]+)\s+(?=\d)/g, '$1') // ">= 1.0" \u2192 ">=1.0"
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
/** One Poetry clause \u2192 an equivalent PEP 440 clause ('' for any, null when unreadable). */
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
const WORD$1 = '[\\p{L}\\p{N}_]';
/** Python's `\b`: a word character on exactly one side. */
const B = `(?:(?<=${WORD$1})(?!${WORD$1})|(?<!${WORD$1})(?=${WORD$1}))`;
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
 * userinfo of a URL in it (`name @ https://user:token@host/\u2026`).
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
/** "3.12" \u2014 the value of the `python_version` marker. */
function pythonMinor(v) {
    return `${v.major}.${v.minor}`;
}
/**
 * "3.12.7" \u2014 the value of `python_full_version`. When only "3.12" was given we evaluate as
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
        const part = pyStrip$1(raw);
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

// Credentials for package indexes (private PyPI mirrors, Artifactory, CodeArtifact, GitLab, \u2026),
// found where the tools people already use put them, and kept out of every message:
//
//   1. an explicit credential in the index configuration
//   2. `user:password@` in the index URL (stripped from the URL before it is used or shown)
//   3. environment variables for a named source (NAME = the source name upper-cased, every
//      character that is not a letter or digit as `_`), the first convention that is set:
//        FAST_BUILD_INDEX_<NAME>_USERNAME / _PASSWORD   (ours)
//        POETRY_HTTP_BASIC_<NAME>_USERNAME / _PASSWORD  (Poetry)
//        UV_INDEX_<NAME>_USERNAME / _PASSWORD           (uv)
//   4. ~/.netrc (or the file `NETRC` names): `machine <host> login \u2026 password \u2026`, else `default`
//
// A URL that names a user but no password (`https://__token__@host/simple`) takes its password
// from the first of 3\u20134 that has an entry for that user. Parsing is pure; `resolveIndexCredential`
// is the one function that reads the environment and the netrc file.
/** What a credential is, for messages. */
function describeIndexCredential(c) {
    return `user ${JSON.stringify(c.username)} from ${c.source}`;
}
/**
 * A URL as it may appear in a message or a log: no userinfo, no query (signed download URLs
 * carry tokens there), no fragment. Text that does not parse as a URL still loses `\u2026@` and `?\u2026`.
 */
function redactUrl(url) {
    try {
        const u = new URL(url);
        const hadQuery = u.search !== '';
        u.username = '';
        u.password = '';
        u.search = '';
        u.hash = '';
        return `${u.href}${hadQuery ? '?\u2026' : ''}`;
    }
    catch {
        const noUser = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
        const q = noUser.search(/[?#]/);
        return q === -1 ? noUser : `${noUser.slice(0, q)}${noUser[q] === '?' ? '?\u2026' : ''}`;
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
// URL, `https://x-access-token:\u2026@github.com/\u2026` as a git source). The lock model keeps URLs
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
 * userinfo (a token may be the user name: `https://<token>@github.com/\u2026`); another scheme loses a
 * password but keeps its user (`ssh://git@github.com/\u2026` names an account, not a secret). Text
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
/** `my-repo.eu` \u2192 `MY_REPO_EU`: how every tool spells a source name in environment variables. */
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
function netrcPath(env, home = node_os.homedir()) {
    return env['NETRC'] || node_path.join(home, '.netrc');
}
function readNetrcFile(path) {
    try {
        return node_fs.readFileSync(path, 'utf8');
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
                return { url, credential: { ...c, source: path.replace(lookup.home ?? node_os.homedir(), '~') } };
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

// [tool.fast-build] \u2192 typed configuration, with defaults and key-path errors.
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
 * packages shared buckets (a bump's 90th percentile re-upload 29\u201331 MB on the lerobot and
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
    const normalized = node_path.posix.normalize(written).replace(/\/+$/, '');
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

// pyproject.toml \u2192 the project model: who the project is, its groups and extras as edges.
// Poetry ([tool.poetry] dependencies, groups, dev-dependencies, extras), PEP 621 ([project]
// dependencies, optional-dependencies), PEP 735 ([dependency-groups] with include-group) and
// uv ([tool.uv] dev-dependencies, workspace, sources) all land in the same shape.
const MAIN = 'main';
/** Read `<dir>/pyproject.toml`. `display` is how to name the directory in messages. */
function readProject(dir, display) {
    const path = node_path.join(dir, 'pyproject.toml');
    const file = display ? node_path.join(display, 'pyproject.toml') : node_path.relative(process.cwd(), path) || path;
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
/** PEP 508 strings \u2192 edges. */
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
 * `git+https://host/repo.git@rev#subdirectory=x`, `https://\u2026/x.whl`, `file:///\u2026` \u2192 a direct
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
/** `https://host/repo.git@v1.2` \u2192 `https://host/repo.git` (the rev is in the lock's commit). */
function stripGitRev(url) {
    const at = url.lastIndexOf('@');
    const slash = url.lastIndexOf('/');
    // An @ after the last slash is a revision; one before it is user@host.
    return at > slash ? url.slice(0, at) : url;
}
/** [tool.poetry.dependencies]-style table \u2192 edges (one per constraint; lists give several). */
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
 * Poetry's `python = "^3.8"` on a dependency \u2192 a marker string. Versions with two components
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
/** PEP 735: resolve `{include-group = "\u2026"}` entries, refusing cycles and unknown groups. */
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
            r.fail(`dependency-groups.${g}`, `include-group cycle: ${[...stack, g].join(' \u2192 ')}`, 'remove one of the include-group entries');
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
    return compareCodePoints$2(a.rest, b.rest);
}
/** Plain code-point order, the same in every locale (unlike `localeCompare`). */
function compareCodePoints$2(a, b) {
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
 * `name-version.tar.gz` \u2192 name and version, split at the last `-` as packaging's
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
/** Parse `sha256:abc\u2026` (Poetry, uv) into a hashes record. */
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
        const keys = Object.keys(value).sort(compareCodePoints$1);
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
function compareCodePoints$1(a, b) {
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
    const withGroups = sha256$2(relevantContent(pyproject, true));
    const withoutGroups = sha256$2(relevantContent(pyproject, false));
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
function sha256$2(content) {
    return node_crypto.createHash('sha256').update(pythonJsonDumps(content), 'utf8').digest('hex');
}

// Poetry 2.x writes each package's files as a `files = [` \u2026 `]` array, one
// `{file = "\u2026", hash = "\u2026"},` per line: on big locks most of the bytes, and most of the time a
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
/** `foo (>=1.0)`, `foo[bar] (>=1) ; marker`, `foo>=1` \u2192 the normalized name. */
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
/** Lock 2.1: `groups = [...]` and `markers` as one string or a table of group \u2192 marker. */
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

// pylock.toml (PEP 751, lock-version 1.x) \u2192 the common lock model. A pylock file is already a
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

// uv.lock (version 1, revisions 1\u20133) \u2192 the common lock model, plus uv's freshness check:
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
        // Optional dependencies are folded into requires-dist with an `extra == '\u2026'` marker.
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
 * A stable text for a `source = {\u2026}` table, used to match edges that pin a source: its kind (the
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
/** `https://host/repo.git?subdirectory=x&rev=v1#<commit>` \u2192 git source (its URL without userinfo). */
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
            if (excluded.has(dir) || !node_fs.existsSync(node_path.join(dir, 'pyproject.toml')))
                continue;
            const member = readProject(dir, node_path.relative(process.cwd(), dir) || '.');
            if (member.name && !out.some((m) => m.name === member.name))
                out.push({ name: member.name, dir, project: member });
        }
    }
    return out;
}
/** Directory globs as uv takes them (`packages/*`, `libs/**`): `*` matches one path segment. */
function expandGlob(root, pattern) {
    const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
    let dirs = [node_path.resolve(root)];
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
                    if (re.test(e) && isDir(node_path.join(d, e)))
                        next.push(node_path.join(d, e));
            }
            else if (seg === '..') {
                next.push(node_path.resolve(d, '..'));
            }
            else if (isDir(node_path.join(d, seg))) {
                next.push(node_path.join(d, seg));
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
        const p = node_path.join(d, e);
        if (isDir(p))
            out.push(p, ...walkDirs(p));
    }
    return out;
}
function safeReaddir(d) {
    try {
        return node_fs.readdirSync(d).sort();
    }
    catch {
        return [];
    }
}
function isDir(p) {
    try {
        return node_fs.statSync(p).isDirectory();
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
    const display = (name) => node_path.join(project.file, '..', name);
    if (project.config.lock) {
        const name = project.config.lock;
        const format = formatOf(name.split('/').pop() ?? name);
        if (!format) {
            throw new ConfigError(`cannot tell the lock format of ${JSON.stringify(name)}`, { file: project.file, keyPath: 'tool.fast-build.lock' }, 'name a poetry.lock, uv.lock or pylock.toml (pylock.<name>.toml) file');
        }
        return { path: node_path.join(project.dir, name), display: display(name), format };
    }
    const candidates = node_fs.readdirSync(project.dir)
        .filter((f) => formatOf(f) !== null)
        .sort();
    if (candidates.length === 0) {
        throw new LockError('no lock file next to pyproject.toml (looked for poetry.lock, uv.lock, pylock.toml)', { file: project.file }, 'create one with `poetry lock`, `uv lock` or `pip lock`, and commit it');
    }
    if (candidates.length > 1) {
        throw new ConfigError(`several lock files next to pyproject.toml: ${candidates.join(', ')}`, { file: project.file, keyPath: 'tool.fast-build.lock' }, `say which one to use, e.g. lock = ${JSON.stringify(candidates[0])} under [tool.fast-build]`);
    }
    const name = candidates[0];
    return { path: node_path.join(project.dir, name), display: display(name), format: formatOf(name) };
}
function readLock(project) {
    const found = findLock(project);
    if (!node_fs.existsSync(found.path)) {
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
//   W = Y-1 \u2026 0 (each for every P), then `cpXY-none-any`, then `pyXY-none-any`, `pyX-none-any`,
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
/** Python versions for `py*` tags: `pyXY`, `pyX`, then `pyXW` for W = Y-1 \u2026 0. */
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
/** Tag \u2192 position in `supportedTags(target)` (0 is best); built once per target. */
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
    return compareCodePoints$2(wheel.filename, than.wheel.filename) < 0;
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
function sha256$1(data) {
    return `sha256:${node_crypto.createHash('sha256').update(data).digest('hex')}`;
}
/** A running sha256 over chunks, finished into a Digest. */
class DigestWriter {
    hash = node_crypto.createHash('sha256');
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
 *    `extra == 'extra-3-foo-x'` holds) \u2014 the set only grows;
 * 3. two items of one declared conflict set both on is an error (uv refuses to install them);
 * 4. a second pass judges every edge against that final set: this is the closure.
 * Without declared conflicts the set stays empty and the second pass is the whole walk.
 */
function walkUv(lock, roots, selection, ctx) {
    const declared = declaredConflicts(lock);
    const prod = selection.groups.includes(MAIN_GROUP);
    const active = new Set();
    /** Encoded item \u2192 what turned it on, for the conflict message. */
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
            .sort(([a], [b]) => compareCodePoints$1(a, b));
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
    return `no wheel for ${formatPlatform(target.platform)} / python ${formatPython(target.python)} / ${formatLibc(target.libc)} among ${wheels.length} (${wheels.slice(0, 2).join(', ')}${wheels.length > 2 ? ', \u2026' : ''}) and no sdist`;
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
    return node_crypto.createHash('sha256').update(hashInputJson(input), 'utf8').digest('hex');
}
/** The hash as it appears in tags (`deps-<variant>-<short>`): 16 hex digits, 64 bits. */
function shortHash(hash) {
    return hash.slice(0, 16);
}

// Project + lock \u2192 the plan: per variant, per platform, the closure and the canonical hash.
// Pure; reading files and printing happen in the CLI and the action.
/** `wheels`, or `dockerfile (why)`: the `builder` column of `fast-build plan`. */
function describeBuilder(b) {
    return b.kind === 'wheels' ? 'wheels' : `dockerfile (${b.summary})`;
}
/**
 * wheels and dockerfile are what they say; auto takes the wheels builder unless it refuses one
 * of the variant's packages (an sdist-only package, a git dependency\u2026), and says which.
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
                        sha256: digestHex(sha256$1(builder.settings.text)),
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
/** The same error, its message naming the variant (`variant ml: \u2026`) unless it already does. */
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
            ? `cannot choose a python version: ${from} allows none of 3.${KNOWN_MINORS[0]}\u20133.${KNOWN_MINORS.at(-1)}`
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
    const full = node_path.isAbsolute(given) ? given : node_path.join(project.dir, given);
    try {
        return { path: given, text: node_fs.readFileSync(full, 'utf8') };
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
    const dir = node_path.resolve(opts.project);
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
            settings.push(`python ${before.python} \u2192 ${after.python}`);
        if (before.baseImage !== after.baseImage)
            settings.push(`base image ${before.baseImage} \u2192 ${after.baseImage}`);
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
            return `${c.name} ${c.from ?? '(dynamic)'} \u2192 ${c.to ?? '(dynamic)'}`;
        case 'source':
            return `${c.name} ${c.version ?? ''} source ${c.from} \u2192 ${c.to}`;
        case 'file':
            return `${c.name} ${c.version ?? ''} file ${c.from} \u2192 ${c.to}`;
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
  variant then platform order. The base image's digest is the pinned one (base-image = "\u2026@sha256:\u2026")
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
                return await (await Promise.resolve().then(function () { return cliBuild; })).cmdBuild(rest, io);
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
    const { values, positionals } = node_util.parseArgs({
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
        text = node_fs.readFileSync(path, 'utf8');
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
    const { values, positionals } = node_util.parseArgs({
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
            ? ` (${d.oldHash.slice(0, 16)} \u2192 ${d.newHash.slice(0, 16)})`
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
        Promise.resolve().then(function () { return cyclonedx; }),
        Promise.resolve().then(function () { return git$1; })
    ]);
    // The build's time, as `build` stamps images: SOURCE_DATE_EPOCH, else the commit's.
    const created = new Date(buildEpoch(await gitInfo(plan.project.dir)) * 1000).toISOString();
    const name = plan.project.name ?? node_path.basename(plan.project.dir);
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

// The CLI bundle (dist/cli-main.cjs, run by the `fast-build` executable, src/cli-start.ts): run
// the CLI and exit with its code.
runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
}, (e) => {
    process.stderr.write(`internal error: ${String(e)}\n`);
    process.exitCode = 1;
});

// Where fast-build keeps what outlives one build, and what lives where: the one owner of the cache
// directory's layout. Every module that reads or writes under it asks here for the path, and the
// Actions cache (src/github/cache.ts) saves and restores exactly the paths named here.
//
//   <root>/artifacts/          wheels and sdists by sha256 (ArtifactCache, artifacts.ts)
//   <root>/work/layers/        the full path's layers: <key>.json (descriptor and the wheels in
//                              it) and the compressed layer beside it, when this machine built it;
//                              seg-<key>.json: which layer holds a wheel's files as a segment
//   <root>/work/unpacked-size/ each wheel's unpacked size by sha256 (what layering weighs)
//   <root>/work/plans/         each variant's plan as of its last build (what changed, for reports)
//   <root>/work/dockerfile/    build contexts of the Dockerfile builder
//   <root>/base-python/        what each base image's Python is, by manifest digest
//   <root>/transfer/           wheels on their way into or out of the Actions cache
//   <root>/oci/                the CLI's default image stores, one per project
//   <root>/v8/                 V8's compiled code of the CLI itself (code-cache.ts)
//
// Where the root is (defaultCacheDir): FAST_BUILD_CACHE_DIR when set; else, in the action, the
// runner's temporary directory (RUNNER_TEMP/fast-build: emptied after each job, and what matters
// between jobs travels through the Actions cache); else XDG_CACHE_HOME/fast-build, else
// ~/.cache/fast-build, as for any tool a developer runs.
/** The cache directory, by the one rule above. */
function defaultCacheDir(env = process.env, home = node_os.homedir(), user = 'cli') {
    const explicit = env['FAST_BUILD_CACHE_DIR'];
    if (explicit)
        return node_path.resolve(explicit);
    const runnerTemp = env['RUNNER_TEMP'];
    if (user === 'action' && runnerTemp)
        return node_path.join(node_path.resolve(runnerTemp), 'fast-build');
    const xdg = env['XDG_CACHE_HOME'];
    if (xdg && node_path.isAbsolute(xdg))
        return node_path.join(xdg, 'fast-build');
    return node_path.join(home, '.cache', 'fast-build');
}
/** The paths under one cache directory (nothing is created here; writers make their directories). */
class CacheLayout {
    root;
    constructor(root) {
        this.root = node_path.resolve(root);
    }
    /** The layout of the default cache directory (defaultCacheDir). */
    static default(env = process.env, user = 'cli') {
        return new CacheLayout(defaultCacheDir(env, node_os.homedir(), user));
    }
    /** V8's compiled code of the CLI bundle, one file per command (cache/code-cache.ts). */
    get codeCache() {
        return node_path.join(this.root, 'v8');
    }
    /** Wheels and sdists by sha256: the ArtifactCache's directory. */
    get artifacts() {
        return node_path.join(this.root, 'artifacts');
    }
    /** What builds leave for the next ones on this machine (layers, sizes, plans, build contexts). */
    get work() {
        return node_path.join(this.root, 'work');
    }
    /** The full path's built layers and their descriptors. */
    get layers() {
        return node_path.join(this.work, 'layers');
    }
    /** `<key>.json`: what is known of the layer with this key (descriptor, wheels). */
    layerDescriptor(key) {
        return node_path.join(this.layers, `${key}.json`);
    }
    /**
     * `seg-<key>.json`: which layer holds the segment of a wheel (for a layout and compression), for
     * a later layer to copy instead of installing the wheel again. Kept with the descriptors.
     */
    segmentIndex(key) {
        return node_path.join(this.layers, `seg-${key}.json`);
    }
    /** The compressed layer itself (`fileName` carries the key and the compression's extension). */
    layerBlob(fileName) {
        return node_path.join(this.layers, fileName);
    }
    get unpackedSizes() {
        return node_path.join(this.work, 'unpacked-size');
    }
    /** The unpacked size of the wheel with this sha256, as a decimal number. */
    unpackedSize(sha256) {
        return node_path.join(this.unpackedSizes, sha256);
    }
    get plans() {
        return node_path.join(this.work, 'plans');
    }
    /** The variant's plan as of its last build. */
    plan(variant) {
        return node_path.join(this.plans, `${variant}.json`);
    }
    /** The Dockerfile builder's context for one variant at one hash. */
    dockerfileContext(variant, shortHash) {
        return node_path.join(this.work, 'dockerfile', `${variant}-${shortHash}`);
    }
    get basePython() {
        return node_path.join(this.root, 'base-python');
    }
    /** What the base image with this manifest digest (hex) has for a Python. */
    basePythonFacts(manifestHex) {
        return node_path.join(this.basePython, `${manifestHex}.json`);
    }
    /** Where a wheel sits while it travels through the Actions cache (the path is part of the entry's version). */
    transfer(sha256) {
        return node_path.join(this.root, 'transfer', sha256.slice(0, 2), `${sha256}.whl`);
    }
    /** The CLI's default image stores, one directory per project under it. */
    get stores() {
        return node_path.join(this.root, 'oci');
    }
    /**
     * What the Actions cache keeps as a variant's layer index: the layers' descriptors (not the
     * layers: the registry has them), the wheels' unpacked sizes, the plans, and the base images'
     * Python facts, so a fresh runner neither reads every wheel nor every base layer again. A few kB.
     */
    get layerIndexEntry() {
        return [node_path.join(this.layers, '*.json'), this.unpackedSizes, this.plans, this.basePython];
    }
}

// Numbers and counts as people read them in logs and summaries.
function formatBytes(n) {
    if (n < 1024)
        return `${n} B`;
    if (n < 1024 * 1024)
        return `${(n / 1024).toFixed(1)} kB`;
    if (n < 1024 ** 3)
        return `${(n / 1024 / 1024).toFixed(1)} MB`;
    return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function limit(n) {
    let running = 0;
    const waiting = [];
    const next = () => {
        if (running >= n)
            return;
        const start = waiting.shift();
        if (start) {
            running++;
            start();
        }
    };
    return (task) => new Promise((resolve, reject) => {
        waiting.push(() => {
            task()
                .then(resolve, reject)
                .finally(() => {
                running--;
                next();
            });
        });
        next();
    });
}
/** Mark a promise as handled (its failure is reported where it is awaited later), and return it. */
function handled(p) {
    p.catch(() => undefined);
    return p;
}

// Files by their sha256, for the whole tool: the wheels and sdists a lock pins (fetched by
// src/wheels/fetch.ts, restored from the Actions cache by src/github/cache.ts), in the cache
// directory's `artifacts/` (src/cache/layout.ts). One ArtifactCache per build is made by the front
// door (the action, the CLI) and passed down to everything that reads or fills it.
const SHA256_HEX$1 = /^[0-9a-f]{64}$/;
/** A key that is not a sha256 (a bug of the caller, or a path trick). */
class ArtifactCacheError extends FastBuildError {
}
/**
 * Files by their sha256: `<dir>/sha256/<first two hex digits>/<hex>`. Entries appear only by
 * rename from `<dir>/tmp/`, after their hash was computed, so a present entry is always whole.
 */
class ArtifactCache {
    dir;
    /** Files being fetched into the cache now, by sha256 (see `arriving`). */
    inFlight = new Map();
    constructor(dir) {
        this.dir = node_path.resolve(dir);
    }
    /**
     * Tell the cache that `arrival` fetches this file into it: until it settles, `arriving` hands
     * it to whoever else wants the file, so one download serves them all. Returns `arrival`.
     */
    track(sha256Hex, arrival) {
        const h = sha256Hex.toLowerCase();
        this.inFlight.set(h, arrival);
        const done = () => {
            if (this.inFlight.get(h) === arrival)
                this.inFlight.delete(h);
        };
        arrival.then(done, done);
        return arrival;
    }
    /** The fetch of this file under way (see `track`), if there is one. */
    arriving(sha256Hex) {
        return this.inFlight.get(sha256Hex.toLowerCase());
    }
    /** Once every fetch under way has settled (a build does not end with one still writing). */
    async settled() {
        while (this.inFlight.size > 0)
            await Promise.allSettled([...this.inFlight.values()]);
    }
    pathFor(sha256Hex) {
        const h = sha256Hex.toLowerCase();
        if (!SHA256_HEX$1.test(h))
            throw new ArtifactCacheError(`not a sha256 digest: ${JSON.stringify(sha256Hex)}`);
        return node_path.join(this.dir, 'sha256', h.slice(0, 2), h);
    }
    /** Whether the cache holds the file (and, when `size` is given, with that size). */
    has(sha256Hex, size = null) {
        return this.sizeOf(sha256Hex, size) !== null;
    }
    /** The cached file's size, or null when it is not cached (or has another size than `size`). */
    sizeOf(sha256Hex, size = null) {
        try {
            const s = node_fs.statSync(this.pathFor(sha256Hex));
            return s.isFile() && (size === null || s.size === size) ? s.size : null;
        }
        catch {
            return null;
        }
    }
    /** A fresh temporary file name on the cache's file system (the directory exists). */
    async tempPath() {
        const dir = node_path.join(this.dir, 'tmp');
        await promises.mkdir(dir, { recursive: true });
        return node_path.join(dir, `${process.pid}-${node_crypto.randomBytes(8).toString('hex')}.part`);
    }
    /**
     * Move `tempPath` into the cache as `sha256Hex`, which must be the hash of its content as
     * computed while it was written (fetchArtifacts does so). Atomic: readers see all or nothing.
     */
    async commit(tempPath, sha256Hex) {
        const final = this.pathFor(sha256Hex);
        await promises.mkdir(node_path.dirname(final), { recursive: true });
        await promises.rename(tempPath, final);
        return final;
    }
    /** Remove temporary files older than `maxAgeMs` (left by runs that were killed). Best effort. */
    async pruneTemp(maxAgeMs = 24 * 3600_000) {
        const dir = node_path.join(this.dir, 'tmp');
        let names;
        try {
            names = await promises.readdir(dir);
        }
        catch {
            return;
        }
        const before = Date.now() - maxAgeMs;
        for (const name of names) {
            const p = node_path.join(dir, name);
            try {
                if ((await promises.stat(p)).mtimeMs < before)
                    await promises.rm(p, { force: true });
            }
            catch {
                // Another run may have just renamed or removed it.
            }
        }
    }
    /** Store bytes; returns their sha256 and cache path. */
    async put(data) {
        const sha256 = node_crypto.createHash('sha256').update(data).digest('hex');
        if (this.has(sha256))
            return { sha256, path: this.pathFor(sha256) };
        const temp = await this.tempPath();
        await promises.writeFile(temp, data);
        return { sha256, path: await this.commit(temp, sha256) };
    }
}

// Files written from pieces (a download, a copy, a layer being compressed): gathered into batches
// of about a MiB, each one trip to the thread pool. A write per piece (64 KiB from a socket, less
// from a compressor) costs a trip each, and a Node stream between them more again: a 2 MB wheel
// took three times as long to download as to arrive.
/** Pieces gathered before a write to the file. */
const WRITE_BATCH = 1024 * 1024;
/** Every byte of the buffers, in order (writev may write less than asked). */
async function writeAll(handle, buffers) {
    let rest = buffers;
    while (rest.length > 0) {
        let { bytesWritten } = await handle.writev(rest);
        while (rest.length > 0 && bytesWritten >= rest[0].length) {
            bytesWritten -= rest[0].length;
            rest = rest.slice(1);
        }
        if (rest.length > 0 && bytesWritten > 0)
            rest = [rest[0].subarray(bytesWritten), ...rest.slice(1)];
    }
}
/**
 * Write what `source` yields to `file` (created or truncated), hashing and counting it as it
 * comes, and telling `onBytes` the count so far. The source is read no faster than the file is
 * written (a batch is written before the next piece is taken). Rejects with the source's error.
 */
async function hashIntoFile(source, file, onBytes, total = null) {
    const hash = node_crypto.createHash('sha256');
    let bytes = 0;
    const handle = await promises.open(file, 'w');
    try {
        let batch = [];
        let batched = 0;
        for await (const piece of source) {
            hash.update(piece);
            bytes += piece.length;
            onBytes?.(bytes, total);
            batch.push(piece);
            batched += piece.length;
            if (batched >= WRITE_BATCH) {
                await writeAll(handle, batch);
                batch = [];
                batched = 0;
            }
        }
        if (batch.length > 0)
            await writeAll(handle, batch);
    }
    finally {
        await handle.close();
    }
    return { bytes, sha256: hash.digest('hex') };
}

// What goes into a layer, before it becomes tar bytes: a flat list of entries with paths relative
// to the image root (no leading slash), already normalized. The tar writer sorts them and fixes
// everything that would make bytes differ between machines (times, owners, modes).
/** Files at least this big are carried as deflated (below it, deflating again costs less). */
const CARRY_MIN_BYTES = 16 * 1024;

// Media types of the OCI image spec and their Docker (schema 2) counterparts, which registries
// and base images still use widely.
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** What a registry is asked for when a tag may name a manifest or an index. */
const ACCEPT_ANY_MANIFEST = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');
function isIndexType(mediaType) {
    return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}
function isManifestType(mediaType) {
    return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}
/** The layer media type that goes with a manifest's family and a compression. */
function layerMediaType(manifestType, compression) {
    if (manifestType === DOCKER_MANIFEST) {
        if (compression !== 'gzip') {
            throw new Error(`Docker schema 2 manifests only carry gzip layers (asked for ${compression})`);
        }
        return DOCKER_LAYER_GZIP;
    }
    return compression === 'gzip' ? OCI_LAYER_GZIP : compression === 'zstd' ? OCI_LAYER_ZSTD : OCI_LAYER;
}

// Deterministic tar (ustar, with PAX records where ustar fields are too small): the bytes are a
// pure function of the entries and one timestamp. Entries are sorted; owners are 0/0 with empty
// names; modes are 0755 for directories and executables, 0644 for other files, 0777 for links;
// no xattrs, no device numbers, no access times.
class LayerPathError extends FastBuildError {
}
const BLOCK$1 = 512;
const ZEROS = Buffer.alloc(BLOCK$1 * 2);
/** Refuse paths a tar reader could resolve outside the layer root. */
function checkEntryPath(path) {
    if (path === '' ||
        path.startsWith('/') ||
        path.endsWith('/') ||
        path.includes('\0') ||
        path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
        throw new LayerPathError(`refusing layer path ${JSON.stringify(path)}: it must be relative, without empty, "." or ".." segments`);
    }
}
function compareCodePoints(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/** Sorted, de-duplicated entries (a path given twice must be the same kind of entry). */
function normalizeEntries(entries) {
    const byPath = new Map();
    for (const e of entries) {
        checkEntryPath(e.path);
        const prev = byPath.get(e.path);
        if (prev && (prev.type !== 'dir' || e.type !== 'dir')) {
            throw new LayerPathError(`layer path ${JSON.stringify(e.path)} is given twice`);
        }
        byPath.set(e.path, e);
    }
    return [...byPath.values()].sort((a, b) => compareCodePoints(a.path, b.path));
}
function octal$1(value, width) {
    return value.toString(8).padStart(width - 1, '0') + '\0';
}
function paxRecord(key, value) {
    const body = ` ${key}=${value}\n`;
    // The length prefix counts itself.
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len)
        len = String(len).length + Buffer.byteLength(body);
    return Buffer.from(`${len}${body}`, 'utf8');
}
/** What every header has: owners 0, the ustar magic, no device numbers, a blank checksum. */
const TEMPLATE = (() => {
    const t = Buffer.alloc(BLOCK$1);
    t.write(octal$1(0, 8), 108, 8, 'ascii');
    t.write(octal$1(0, 8), 116, 8, 'ascii');
    t.write('        ', 148, 8, 'ascii');
    t.write('ustar\0', 257, 6, 'ascii');
    t.write('00', 263, 2, 'ascii');
    t.write(octal$1(0, 8), 329, 8, 'ascii');
    t.write(octal$1(0, 8), 337, 8, 'ascii');
    return t;
})();
/** Writes a ustar header into `h` at `at` (512 bytes there get overwritten). */
function writeHeader(f, h, at) {
    TEMPLATE.copy(h, at);
    h.write(f.name, at, 100, 'utf8');
    h.write(octal$1(f.mode, 8), at + 100, 8, 'ascii');
    h.write(octal$1(f.size, 12), at + 124, 12, 'ascii');
    h.write(octal$1(f.mtime, 12), at + 136, 12, 'ascii');
    h.write(f.typeflag, at + 156, 1, 'ascii');
    h.write(f.linkname, at + 157, 100, 'utf8');
    let sum = 0;
    for (let i = at; i < at + BLOCK$1; i++)
        sum += h[i];
    h.write(octal$1(sum, 7) + ' ', at + 148, 8, 'ascii');
}
function header(f) {
    const h = Buffer.allocUnsafe(BLOCK$1);
    writeHeader(f, h, 0);
    return h;
}
const MAX_USTAR_SIZE = 0o77777777777; // 11 octal digits
const fits = (s) => s.length <= 100 && /^[\x20-\x7e]*$/.test(s);
/** Header block(s) for one entry: a PAX record first when a name or size does not fit ustar. */
function headersFor(name, f) {
    const pax = [];
    if (!fits(name))
        pax.push(paxRecord('path', name));
    if (!fits(f.linkname))
        pax.push(paxRecord('linkpath', f.linkname));
    if (f.size > MAX_USTAR_SIZE)
        pax.push(paxRecord('size', String(f.size)));
    const main = header({
        ...f,
        name: fits(name) ? name : asciiPrefix(name),
        linkname: fits(f.linkname) ? f.linkname : asciiPrefix(f.linkname),
        size: f.size > MAX_USTAR_SIZE ? 0 : f.size
    });
    if (pax.length === 0)
        return [main];
    const body = Buffer.concat(pax);
    const paxHeader = header({
        name: asciiPrefix(`PaxHeaders/${name}`),
        mode: 0o644,
        size: body.length,
        typeflag: 'x',
        linkname: '',
        mtime: f.mtime
    });
    return [paxHeader, body, padding(body.length), main];
}
/** The first 100 bytes of the name's printable-ASCII form (readers use the PAX path). */
function asciiPrefix(s) {
    return s.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
}
function padding(size) {
    const rest = size % BLOCK$1;
    return rest === 0 ? Buffer.alloc(0) : ZEROS.subarray(0, BLOCK$1 - rest);
}
/**
 * Fills fixed-size blocks and hands each full one to `onBlock` (a new buffer each time, which the
 * receiver may keep). Files with a `diskPath` are read straight into the block.
 */
class BlockSink {
    size;
    onBlock;
    free;
    block;
    used = 0;
    /**
     * Where the block starts in the tar stream. A multiple of 512 until a carried file's content
     * (which bypasses the blocks, see `Carry`) moves it; records are placed by it, not by `used`.
     */
    position = 0;
    constructor(size, onBlock, 
    /** Blocks the receiver is done with, to fill again (less allocation, less GC). */
    free = []) {
        this.size = size;
        this.onBlock = onBlock;
        this.free = free;
        this.block = free.pop() ?? Buffer.allocUnsafe(size);
    }
    // Writes are synchronous; only handing off a full block (a few per layer) can be awaited, so a
    // file costs no promises. Each method returns that promise, or undefined.
    flushIfFull() {
        if (this.used === this.size) {
            const full = this.block;
            this.block = this.free.pop() ?? Buffer.allocUnsafe(this.size);
            this.used = 0;
            this.position += this.size;
            return this.onBlock(full);
        }
    }
    async write(data) {
        let offset = 0;
        while (offset < data.length) {
            const n = Math.min(this.size - this.used, data.length - offset);
            data.copy(this.block, this.used, offset, offset + n);
            this.used += n;
            offset += n;
            await this.flushIfFull();
        }
    }
    /**
     * A header, written in place. Every tar record starts on a 512-byte boundary and blocks are a
     * multiple of 512 bytes, so a header fits in the rest of the block, unless a carried file has
     * moved the block's start: then one that would straddle two blocks is copied in.
     */
    header(f) {
        if (this.used + BLOCK$1 > this.size)
            return this.write(header(f));
        writeHeader(f, this.block, this.used);
        this.used += BLOCK$1;
        return this.flushIfFull();
    }
    /** Zeros up to the next 512-byte boundary of the tar stream. */
    pad() {
        const rest = (this.position + this.used) % BLOCK$1;
        if (rest === 0)
            return;
        if (this.used + BLOCK$1 - rest > this.size)
            return this.write(ZEROS.subarray(0, BLOCK$1 - rest));
        this.block.fill(0, this.used, this.used + BLOCK$1 - rest);
        this.used += BLOCK$1 - rest;
        return this.flushIfFull();
    }
    /** `n` bytes of the tar stream went around the blocks (a carried file's content), after a cut. */
    skip(n) {
        this.position += n;
    }
    /**
     * `size` bytes of the file at `path`, read straight into the block. A file that is shorter now
     * is an error; one that grew is cut at `size`, which the header already promised.
     */
    writeFile(path, size, entryPath) {
        const fd = node_fs.openSync(path, 'r');
        let done = 0;
        let closed = false;
        const close = () => {
            if (!closed) {
                closed = true;
                node_fs.closeSync(fd);
            }
        };
        const rest = async (flush) => {
            try {
                await flush;
                for (;;) {
                    const next = this.readSome(fd, size, done, entryPath);
                    if (next === null)
                        return;
                    done = next.done;
                    if (next.flush)
                        await next.flush;
                }
            }
            finally {
                close();
            }
        };
        try {
            for (;;) {
                const next = this.readSome(fd, size, done, entryPath);
                if (next === null)
                    break;
                done = next.done;
                // A full block was handed over: finish this file asynchronously.
                if (next.flush)
                    return rest(next.flush);
            }
        }
        catch (e) {
            close();
            throw e;
        }
        close();
    }
    /** One read into the block; null when the file is done. */
    readSome(fd, size, done, entryPath) {
        if (done >= size)
            return null;
        const n = node_fs.readSync(fd, this.block, this.used, Math.min(this.size - this.used, size - done), done);
        if (n === 0)
            throw new LayerPathError(`${entryPath} changed while the layer was written (it was ${size} bytes)`);
        this.used += n;
        return { done: done + n, flush: this.flushIfFull() };
    }
    /**
     * Hand over what the block holds so far, however little (a copy: the block is filled again), so
     * that what follows can take another way: a carried file's content (see `Carry`).
     */
    cut() {
        if (this.used === 0)
            return;
        const piece = Buffer.from(this.block.subarray(0, this.used));
        this.position += this.used;
        this.used = 0;
        return this.onBlock(piece);
    }
    async end() {
        if (this.used > 0)
            await this.onBlock(this.block.subarray(0, this.used));
    }
}
/**
 * The tar stream of the entries, cut into blocks of `blockSize` bytes (the last may be shorter,
 * and so may a block ended by a carried file's header), each passed to `onBlock` in order, which
 * may await (back-pressure). The cuts depend on the entries alone, so the output stays a pure
 * function of them.
 */
async function writeTar(entries, opts, onBlock) {
    if (opts.blockSize % BLOCK$1 !== 0)
        throw new Error('the block size must be a multiple of 512');
    const mtime = Math.max(0, Math.floor(opts.mtime));
    const sink = new BlockSink(opts.blockSize, onBlock, opts.freeBlocks);
    const headers = (name, f) => {
        if (fits(name) && fits(f.linkname) && f.size <= MAX_USTAR_SIZE)
            return sink.header({ ...f, name });
        return (async () => {
            for (const h of headersFor(name, f))
                await sink.write(h);
        })();
    };
    // Awaits only what is a promise: most steps finish synchronously.
    let w;
    for (const e of normalizeEntries(entries)) {
        switch (e.type) {
            case 'dir':
                if ((w = headers(`${e.path}/`, { mode: 0o755, size: 0, typeflag: '5', linkname: '', mtime })))
                    await w;
                break;
            case 'symlink':
                if ((w = headers(e.path, { mode: 0o777, size: 0, typeflag: '2', linkname: e.target, mtime })))
                    await w;
                break;
            case 'file': {
                const mode = e.executable ? 0o755 : 0o644;
                const carry = opts.carry;
                if (carry && e.deflated && !e.diskPath && e.size >= carry.minSize) {
                    if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime })))
                        await w;
                    if ((w = sink.cut()))
                        await w;
                    await fileContent(e, (chunk) => carry.content(chunk));
                    if ((w = carry.deflated(e.deflated, e.size)))
                        await w;
                    sink.skip(e.size);
                }
                else if (e.diskPath) {
                    if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime })))
                        await w;
                    if ((w = sink.writeFile(e.diskPath, e.size, e.path)))
                        await w;
                }
                else {
                    // The header first: its size is the one announced, which the content is held to.
                    if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime })))
                        await w;
                    await fileContent(e, (chunk) => sink.write(chunk));
                }
                if ((w = sink.pad()))
                    await w;
                break;
            }
        }
    }
    if (opts.end !== false)
        await sink.write(ZEROS);
    await sink.end();
}
/** A file's content (streamed, or whole), exactly the size it announced, through `out`. */
async function fileContent(e, out) {
    if (!e.stream) {
        const content = await e.content();
        if (content.length !== e.size) {
            throw new LayerPathError(`${e.path} changed while the layer was written (${e.size} bytes, then ${content.length})`);
        }
        await out(content);
        return;
    }
    let written = 0;
    const size = e.size;
    await e.stream(async (chunk) => {
        written += chunk.length;
        if (written > size)
            throw new LayerPathError(`${e.path} gave more than the ${size} bytes it announced`);
        await out(chunk);
    });
    if (written !== size)
        throw new LayerPathError(`${e.path} gave ${written} bytes, not the ${size} it announced`);
}

// zstd for layers: Node's own (node:zlib has zstd from 22.15/23.8, which is what the action's
// node24 runs), else the `zstd` program (Debian/Ubuntu package zstd, on GitHub's runner images),
// so a CLI on an older Node can still write and read zstd layers. The program is fed the whole
// tar stream and writes one frame sequence; Node's is fed fixed blocks and writes one frame per
// block. Both are valid zstd for every reader; the blob bytes (so the digest) differ between the
// two, which costs at most one re-upload when a machine switches between them.
class CompressionError extends FastBuildError {
}
const z = zlib__namespace;
/** zstd's own default level: fast, and still smaller than gzip -6. */
const ZSTD_LEVEL = 3;
/**
 * The program to fall back to. FAST_BUILD_ZSTD names one to use even where Node has zstd (a
 * newer zstd than Node's, or tests that need the program path on any Node).
 */
function program() {
    return process.env['FAST_BUILD_ZSTD'] || 'zstd';
}
const programChosen = () => Boolean(process.env['FAST_BUILD_ZSTD']);
const noZstd = (what) => new CompressionError(`${what} needs zstd: this Node.js (${process.version}) has none built in, and the zstd program was not found`, {}, 'install zstd (apt-get install zstd), run fast-build on Node.js 22.15 or newer, or use compression = "gzip"');
/** Node's block compressor, or null when this Node has no zstd. */
function nodeZstdCompressor(level) {
    if (!z.zstdCompress || programChosen())
        return null;
    const compress = node_util.promisify(z.zstdCompress);
    const param = z.constants['ZSTD_c_compressionLevel'];
    return (block) => compress(block, param === undefined ? {} : { params: { [param]: level ?? ZSTD_LEVEL } });
}
/**
 * A `zstd` child compressing one stream: `write` blocks in order, `end` once; `onOutput` gets
 * the compressed bytes in order, one call at a time (the child waits while it runs).
 */
class ZstdProcess {
    child;
    exited;
    output = Promise.resolve();
    failure = null;
    stderr = '';
    constructor(level, onOutput) {
        this.child = node_child_process.spawn(program(), ['-q', '-c', `-${level ?? ZSTD_LEVEL}`], { stdio: 'pipe' });
        const { child } = this;
        child.stdout.on('data', (chunk) => {
            child.stdout.pause();
            this.output = this.output
                .then(() => (this.failure ? undefined : onOutput(chunk)))
                .then(() => {
                child.stdout.resume();
            }, (e) => {
                this.fail(e instanceof Error ? e : new Error(String(e)));
            });
        });
        child.stderr.on('data', (d) => {
            if (this.stderr.length < 4096)
                this.stderr += d.toString('utf8');
        });
        // EPIPE when the child died: its exit status says why.
        child.stdin.on('error', () => { });
        this.exited = new Promise((resolve) => {
            child.on('error', (e) => {
                this.fail(e.code === 'ENOENT' ? noZstd('a zstd layer') : e);
                resolve();
            });
            child.on('close', (code, signal) => {
                if (code !== 0 && !this.failure)
                    this.fail(new CompressionError(`zstd exited with ${signal ?? `status ${code}`}${this.stderr ? `: ${this.stderr.trim()}` : ''}`, {}, 'check that the zstd program works (zstd --version)'));
                resolve();
            });
        });
    }
    fail(e) {
        this.failure ??= e;
        this.child.kill();
    }
    /** Hands the child one block; resolves once it can take more. */
    async write(block) {
        if (this.failure)
            throw this.failure;
        if (!this.child.stdin.write(block)) {
            await Promise.race([new Promise((r) => this.child.stdin.once('drain', r)), this.exited]);
        }
        if (this.failure)
            throw this.failure;
    }
    /** Ends the input and resolves when every output byte has been handed on. */
    async end() {
        this.child.stdin.end();
        await this.exited;
        await this.output;
        if (this.failure)
            throw this.failure;
    }
    /** Stops the child (a failed build elsewhere). */
    abort() {
        if (this.child.exitCode === null)
            this.child.kill();
    }
}
/** The tar bytes of a zstd blob on disk: Node's decompressor, else `zstd -d`. */
function zstdDecompressFile(raw, file) {
    if (z.createZstdDecompress && !programChosen()) {
        const d = z.createZstdDecompress();
        raw.on('error', (e) => d.destroy(e));
        return raw.pipe(d);
    }
    raw.destroy();
    const out = new node_stream.PassThrough();
    const child = node_child_process.spawn(program(), ['-d', '-q', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
        if (stderr.length < 4096)
            stderr += d.toString('utf8');
    });
    child.stdout.pipe(out, { end: false });
    child.on('error', (e) => out.destroy(e.code === 'ENOENT' ? noZstd(`reading the zstd layer ${file}`) : e));
    child.on('close', (code, signal) => {
        if (code === 0)
            out.end();
        else
            out.destroy(new CompressionError(`zstd could not read ${file} (${signal ?? `status ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`, { file }, 'the layer blob is damaged: delete it from the cache directory and build again'));
    });
    // A reader that stops early (it found what it wanted) stops the child too.
    out.on('close', () => {
        if (child.exitCode === null)
            child.kill();
    });
    return out;
}

// A layer blob from entries: tar them deterministically, compress, and take both digests (the
// compressed blob's, for the manifest; the tar's, the diff_id, for the config) in one pass.
//
// Compression runs in parallel: the tar stream is cut into fixed 2 MiB blocks, each compressed
// on libuv's thread pool while the next is read, and the results are concatenated in order. For
// gzip that is a multi-member file (RFC 1952 \u00a72.2), which every layer reader handles (Go's gzip
// reader in containerd/skopeo/umoci, Python's gzip and tarfile, GNU gzip); for zstd, several
// frames. The block size is fixed, so the bytes stay a pure function of the entries. On a Node
// without zstd, the zstd program compresses the whole stream instead (zstd.ts).
//
// A gzip layer of installed wheels deflates little: a wheel is a zip whose entries are already
// deflate streams, and a gzip member is a deflate stream between a 10-byte header and an 8-byte
// trailer (CRC-32 and size, both in the zip's directory). So each big file goes in as its own
// member, its deflate data copied from the wheel; only the tar headers and small files between
// them are deflated here. The content is still inflated, to check it against RECORD and to hash
// the tar (the diff_id), but inflating costs a fraction of deflating, and wheels are deflated
// harder than gzip -1, so the layer also comes out smaller.
/** Part of the format: changing it changes every compressed layer's bytes. */
const BLOCK_SIZE = 2 * 1024 * 1024;
/** Blocks compressing at once (libuv's pool has 4 threads by default). */
const IN_FLIGHT = 4;
const gzip = node_util.promisify(zlib__namespace.gzip);
/**
 * A wheel's deflate data could not stand for its content: it has bytes after its deflate stream
 * (which pip ignores). The layer must be written again with every file deflated afresh.
 */
class InexactDeflateError extends Error {
    constructor() {
        super('deflate data with bytes after its stream cannot be carried into a gzip layer');
    }
}
/** A gzip member's header (RFC 1952): no name, no time, OS "unknown" (as the blocks have it). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** A gzip member's trailer: CRC-32 and size (mod 2^32) of what it inflates to, little-endian. */
function gzipTrailer(crc32, size) {
    const t = Buffer.alloc(8);
    t.writeUInt32LE(crc32 >>> 0, 0);
    t.writeUInt32LE(size % 2 ** 32, 4);
    return t;
}
/** Pieces smaller than this (the tar headers between carried files) are deflated right here. */
const SYNC_BELOW = 16 * 1024;
function gzipBlocks(level) {
    return async (block) => {
        // One output buffer a little larger than the block (deflate's worst case): zlib then deflates
        // the whole block in one go on the thread pool, instead of returning to the main thread every
        // 16 kB (the bytes are the same either way). A small piece is deflated at once instead: a
        // trip to a pool busy inflating would cost more, and hold up the pieces after it.
        const opts = { level: level ?? 1, chunkSize: block.length + (block.length >>> 10) + 64 };
        const out = block.length < SYNC_BELOW ? zlib__namespace.gzipSync(block, opts) : await gzip(block, opts);
        // zlib writes its build's OS code (3 on Unix, 10 on Windows) into byte 9 of each member's
        // header; a fixed 255 ("unknown") keeps the blob the same whichever OS wrote it.
        out[9] = 0xff;
        return out;
    };
}
/**
 * Blocks compressed on the thread pool, several at once, emitted in order; with `carry` (gzip),
 * carried deflate data goes out in its place among them, wrapped as a gzip member.
 */
function blockSink(compress, emit, free, carries) {
    const pending = [];
    const next = async () => {
        const piece = await pending.shift();
        if (typeof piece === 'function')
            await piece(emit);
        else
            await emit(piece);
    };
    const push = async (piece) => {
        pending.push(piece);
        if (pending.length >= IN_FLIGHT)
            await next();
    };
    const sink = {
        write: (block) => push(compress(block).then((out) => {
            // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
            if (block.length === BLOCK_SIZE)
                free.push(block);
            return out;
        })),
        raw: (out) => push(Promise.resolve(out)),
        mark: (f) => push(Promise.resolve(async () => f())),
        async end() {
            while (pending.length > 0)
                await next();
        },
        abort() { }
    };
    if (!carries)
        return sink;
    return {
        ...sink,
        async carry(d, size) {
            // The content has been read by now, and so inflated and checked: its CRC-32 is the one
            // given, and whether the deflate data ends with its stream is known.
            if (!d.exact())
                throw new InexactDeflateError();
            await push(Promise.resolve(async (out) => {
                await out(GZIP_HEADER);
                for await (const chunk of d.raw())
                    await out(chunk);
                await out(gzipTrailer(d.crc32, size));
            }));
        }
    };
}
function sinkFor(compression, level, emit, free, carries) {
    if (compression === 'none')
        return { write: emit, raw: emit, mark: async (f) => f(), end: async () => { }, abort() { } };
    if (compression === 'gzip')
        return blockSink(gzipBlocks(level), emit, free, carries);
    const nodeZstd = nodeZstdCompressor(level);
    if (nodeZstd)
        return blockSink(nodeZstd, emit, free, false);
    // The zstd program holds on to what it is given, so its blocks are not reused.
    return new ZstdProcess(level, emit);
}
/**
 * Compressed bytes gathered before a write when the layer is also streamed (smaller than
 * WRITE_BATCH: the upload follows the build more closely).
 */
const STREAM_BATCH = 256 * 1024;
/** A segment copied from an earlier blob did not hold what was recorded of it. */
class SegmentDamagedError extends Error {
    constructor(file, why) {
        super(`segment of ${file}: ${why}`);
    }
}
/**
 * Whether layers of this compression can be segmented: a segment's compressed bytes must stand
 * alone (gzip members, zstd frames, or plain tar), which the zstd program's one stream does not.
 */
function segmentable(compression) {
    return compression !== 'zstd' || nodeZstdCompressor(undefined) !== null;
}
/** Copied segments up to this size are read and decompressed whole, in one trip to the pool. */
const WHOLE_SEGMENT = 32 * 1024 * 1024;
const gunzip = node_util.promisify(zlib__namespace.gunzip);
/** A copied segment's tar bytes, decompressed in one go (`tarSize` gives the output's size). */
async function inflateWhole(data, compression, tarSize) {
    if (compression === 'none')
        return data;
    // One output buffer of the known size: no 16 kB pieces, no trip back per piece.
    const opts = { chunkSize: Math.max(64, tarSize + 64) };
    if (compression === 'gzip')
        return gunzip(data, opts);
    return node_util.promisify(zlib__namespace.zstdDecompress)(data, opts);
}
/** Decompresses a big copied segment as it is read, so that it is never held whole. */
function segmentInflater(compression) {
    const opts = { chunkSize: 1024 * 1024 };
    if (compression === 'gzip')
        return zlib__namespace.createGunzip(opts);
    if (compression === 'zstd')
        return zlib__namespace.createZstdDecompress(opts);
    return null;
}
async function buildLayer(entries, opts) {
    return writeLayer(opts, false, (w) => w.tar(entries, true));
}
/**
 * A layer in segments: each part's compressed bytes stand alone (its own gzip members or zstd
 * frames, cut at its start), so a later layer can copy a part's bytes as they are, compressing
 * nothing, and only hash them into its diff_id. The tar ends after the last part. Returns where
 * each part is in the blob. The bytes are a pure function of the parts: a copied part gives
 * the same bytes as the part written afresh.
 */
async function buildSegmentedLayer(segments, opts) {
    const compression = opts.compression ?? 'gzip';
    if (!segmentable(compression))
        throw new Error(`${compression} layers cannot be segmented here`);
    const located = [];
    const wholeBelow = opts.copyWholeBelow ?? WHOLE_SEGMENT;
    const ahead = new ReadAhead(segments.map((seg) => ('copy' in seg && seg.copy.length <= wholeBelow ? seg.copy : null)), compression);
    const blob = await writeLayer(opts, true, async (w) => {
        let start = { offset: 0, tarSize: 0 };
        for (const [i, seg] of segments.entries()) {
            if ('copy' in seg)
                await w.copy(seg.copy, ahead.take(i));
            else
                await w.tar(seg.entries, false);
            await w.mark((blobSize, crc32, tarSize) => {
                located.push({
                    offset: start.offset,
                    length: blobSize - start.offset,
                    crc32,
                    tarSize: tarSize - start.tarSize
                });
                start = { offset: blobSize, tarSize };
            });
        }
        await w.tar([], true);
    });
    return { ...blob, segments: located };
}
async function writeLayer(opts, segmented, body) {
    const compression = opts.compression ?? 'gzip';
    const tar = new DigestWriter();
    const blob = new DigestWriter();
    const kept = [];
    let handle = opts.file ? await promises.open(opts.file, 'w') : null;
    // Pieces for the file, written together once there is enough of them (a carried file is three
    // pieces, some a few bytes: one write each would be thousands of trips to the thread pool).
    let batch = [];
    let batched = 0;
    // CRC-32 of the blob bytes since the last mark (what a segment is checked by when copied).
    let crc = 0;
    // The same batches go to onChunk (a streamed upload): a request write per piece would be
    // thousands of them.
    const flush = async () => {
        if (batch.length === 0)
            return;
        const buffers = batch;
        batch = [];
        batched = 0;
        if (handle)
            await writeAll(handle, buffers);
        if (opts.onChunk)
            await opts.onChunk(buffers.length === 1 ? buffers[0] : Buffer.concat(buffers));
    };
    const emit = async (out) => {
        blob.update(out);
        if (segmented)
            crc = zlib__namespace.crc32(out, crc);
        if (!handle)
            kept.push(out);
        if (handle || opts.onChunk) {
            batch.push(out);
            batched += out.length;
            if (batched >= (opts.onChunk ? STREAM_BATCH : WRITE_BATCH))
                await flush();
        }
    };
    let entryCount = 0;
    // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
    const free = [];
    const sink = sinkFor(compression, opts.level, emit, free, opts.reuseDeflate !== false);
    const carry = sink.carry && {
        minSize: CARRY_MIN_BYTES,
        content: (chunk) => void tar.update(chunk),
        deflated: sink.carry
    };
    const writer = {
        async tar(entries, end) {
            entryCount += entries.length;
            await writeTar(entries, { mtime: opts.mtime, blockSize: BLOCK_SIZE, freeBlocks: free, end, ...(carry ? { carry } : {}) }, async (block) => {
                tar.update(block);
                await sink.write(block);
            });
        },
        copy: (c, ahead) => copySegment(c, compression, sink, tar, opts.copyWholeBelow ?? WHOLE_SEGMENT, ahead),
        mark(f) {
            // The tar is hashed as it is written, the blob as the compressed pieces go out (later).
            const tarSize = tar.size;
            return sink.mark(() => {
                f(blob.size, crc >>> 0, tarSize);
                crc = 0;
            });
        }
    };
    try {
        await body(writer);
        await sink.end();
        await flush();
    }
    catch (e) {
        sink.abort();
        throw e;
    }
    finally {
        await handle?.close();
        handle = null;
    }
    return {
        compression,
        mediaType: layerMediaType(opts.manifestType ?? OCI_MANIFEST, compression),
        digest: blob.digest(),
        size: blob.size,
        diffId: tar.digest(),
        uncompressedSize: tar.size,
        data: opts.file ? null : Buffer.concat(kept, blob.size),
        file: opts.file ?? null,
        entries: entryCount
    };
}
/** Pieces of a copied segment read at once. */
const COPY_CHUNK = 1024 * 1024;
/**
 * A segment of an earlier blob, copied into this one as it is; its tar bytes (decompressed here)
 * go into the diff_id before anything after it. Its length, CRC-32 and tar size are checked.
 */
async function copySegment(c, compression, sink, tar, wholeBelow, ahead) {
    if (c.length === 0)
        return;
    if (ahead || c.length <= wholeBelow) {
        const { data, tarBytes } = await (ahead ?? readWhole$1(c, compression));
        tar.update(tarBytes);
        await sink.raw(data);
        return;
    }
    const handle = await openSegmentFile(c);
    try {
        await copyStreaming(c, handle, compression, sink, tar);
    }
    finally {
        await handle.close();
    }
}
function openSegmentFile(c) {
    return promises.open(c.file, 'r').catch((e) => {
        throw new SegmentDamagedError(c.file, e.code ?? e.message);
    });
}
async function readWhole$1(c, compression) {
    const handle = await openSegmentFile(c);
    let data;
    try {
        data = Buffer.allocUnsafe(c.length);
        const { bytesRead } = await handle.read(data, 0, c.length, c.offset);
        if (bytesRead !== c.length)
            throw new SegmentDamagedError(c.file, 'the blob is shorter than recorded');
    }
    finally {
        await handle.close();
    }
    if (zlib__namespace.crc32(data) >>> 0 !== c.crc32 >>> 0)
        throw new SegmentDamagedError(c.file, 'its bytes changed since it was written');
    const tarBytes = await inflateWhole(data, compression, c.tarSize).catch((e) => {
        throw new SegmentDamagedError(c.file, e.message);
    });
    if (tarBytes.length !== c.tarSize)
        throw new SegmentDamagedError(c.file, `it holds ${tarBytes.length} bytes of tar, not ${c.tarSize}`);
    return { data, tarBytes };
}
/** Tar and compressed bytes of copied segments read ahead, at most this many at a time. */
const READ_AHEAD_BYTES = 64 * 1024 * 1024;
/**
 * The copied segments of a layer, read and decompressed before their turn: a copy is a file read
 * and an inflate on the thread pool, and one after the other (each waited for in turn) they left
 * the main thread idle a third of a bump's layer build. Started in layer order, within
 * READ_AHEAD_BYTES (compressed and tar bytes held), each taken once. A read that fails is
 * reported when its segment's turn comes, as without reading ahead.
 */
class ReadAhead {
    copies;
    compression;
    started = new Map();
    next = 0;
    held = 0;
    /** `copies[i]`: the segment to read ahead for part i of the layer, or null (none, or too big). */
    constructor(copies, compression) {
        this.copies = copies;
        this.compression = compression;
        this.fill();
    }
    fill() {
        for (; this.next < this.copies.length; this.next++) {
            const c = this.copies[this.next];
            if (!c || c.length === 0)
                continue;
            const cost = c.length + c.tarSize;
            if (this.held > 0 && this.held + cost > READ_AHEAD_BYTES)
                return;
            this.held += cost;
            this.started.set(this.next, { read: handled(readWhole$1(c, this.compression)), cost });
        }
    }
    /** Part i's segment, being read; undefined when it was not read ahead. */
    take(i) {
        const s = this.started.get(i);
        if (!s)
            return undefined;
        this.started.delete(i);
        this.held -= s.cost;
        this.fill();
        return s.read;
    }
}
/** `copySegment` for a big segment: read, decompressed and hashed in pieces. */
async function copyStreaming(c, handle, compression, sink, tar) {
    const inflater = segmentInflater(compression);
    let tarBytes = 0;
    const hashTar = (d) => {
        tar.update(d);
        tarBytes += d.length;
    };
    const inflated = inflater
        ? new Promise((resolve, reject) => {
            inflater.on('data', hashTar);
            inflater.once('end', resolve);
            inflater.once('error', (e) => reject(new SegmentDamagedError(c.file, e.message)));
        })
        : Promise.resolve();
    // A failed inflate is reported by `inflated` (awaited below); this keeps it from going unhandled.
    inflated.catch(() => undefined);
    let crc = 0;
    let read = 0;
    while (read < c.length) {
        const want = Math.min(COPY_CHUNK, c.length - read);
        const chunk = Buffer.allocUnsafe(want);
        const { bytesRead } = await handle.read(chunk, 0, want, c.offset + read);
        if (bytesRead === 0)
            throw new SegmentDamagedError(c.file, 'the blob is shorter than recorded');
        const piece = bytesRead === want ? chunk : chunk.subarray(0, bytesRead);
        read += bytesRead;
        crc = zlib__namespace.crc32(piece, crc);
        if (inflater) {
            if (!inflater.write(piece))
                await Promise.race([node_events.once(inflater, 'drain'), inflated]);
        }
        else
            hashTar(piece);
        await sink.raw(piece);
    }
    inflater?.end();
    await inflated;
    if (crc >>> 0 !== c.crc32 >>> 0)
        throw new SegmentDamagedError(c.file, 'its bytes changed since it was written');
    if (tarBytes !== c.tarSize)
        throw new SegmentDamagedError(c.file, `it holds ${tarBytes} bytes of tar, not ${c.tarSize}`);
}

// Image manifests, indexes and configs: parsed from what a registry or layout returns (checked,
// with errors that say what is wrong), and built with a fixed key order so the same image always
// serializes to the same bytes.
class ImageError extends FastBuildError {
}
// --- platforms -------------------------------------------------------------------------------------
function ociPlatform(p) {
    return p.architecture === 'arm64'
        ? { architecture: 'arm64', os: 'linux', variant: 'v8' }
        : { architecture: 'amd64', os: 'linux' };
}
/** Whether an image's platform is the target's (arm64's `v8` variant may be omitted). */
function platformMatches(have, want) {
    if (have.os !== want.os || have.architecture !== want.architecture)
        return false;
    if (want.architecture === 'arm64')
        return have.variant === undefined || have.variant === 'v8';
    return true;
}
function describePlatform(p) {
    return `${String(p.os ?? '?')}/${String(p.architecture ?? '?')}${p.variant ? `/${String(p.variant)}` : ''}`;
}
// --- parsing ----------------------------------------------------------------------------------------
function object(v, what) {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new ImageError(`${what} is not a JSON object`);
    return v;
}
function parseDescriptor(v, what) {
    const o = object(v, what);
    if (typeof o['mediaType'] !== 'string')
        throw new ImageError(`${what}: mediaType missing`);
    if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || o['size'] < 0) {
        throw new ImageError(`${what}: size is not a byte count`);
    }
    return {
        ...o,
        mediaType: o['mediaType'],
        digest: parseDigest(o['digest'], `${what}.digest`),
        size: o['size']
    };
}
function parseJson(bytes, what) {
    try {
        return object(JSON.parse(bytes.toString('utf8')), what);
    }
    catch (e) {
        if (e instanceof ImageError)
            throw e;
        throw new ImageError(`${what} is not valid JSON: ${e.message}`);
    }
}
/**
 * A manifest or index, from its bytes and the Content-Type it was served with (which wins
 * over, or stands in for, a missing `mediaType` field).
 */
function parseManifest(bytes, contentType, what) {
    const o = parseJson(bytes, what);
    const declared = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined;
    const served = contentType?.split(';')[0]?.trim();
    const mediaType = declared ??
        (served && served !== 'application/json' ? served : undefined) ??
        (o['manifests'] ? OCI_INDEX : undefined);
    if (o['schemaVersion'] !== 2) {
        throw new ImageError(`${what}: schemaVersion ${JSON.stringify(o['schemaVersion'])} is not supported (only 2)`);
    }
    if (isIndexType(mediaType) || (mediaType === undefined && Array.isArray(o['manifests']))) {
        if (!Array.isArray(o['manifests']))
            throw new ImageError(`${what}: index without manifests`);
        const manifests = o['manifests'].map((m, i) => parseDescriptor(m, `${what}.manifests[${i}]`));
        return {
            kind: 'index',
            mediaType: mediaType ?? OCI_INDEX,
            index: {
                ...o,
                schemaVersion: 2,
                mediaType: mediaType ?? OCI_INDEX,
                manifests
            }
        };
    }
    const mt = mediaType ?? (o['config'] ? 'application/vnd.oci.image.manifest.v1+json' : undefined);
    if (!isManifestType(mt))
        throw new ImageError(`${what}: unsupported media type ${JSON.stringify(mt ?? null)}`);
    if (!Array.isArray(o['layers']))
        throw new ImageError(`${what}: manifest without layers`);
    const manifest = {
        ...o,
        schemaVersion: 2,
        mediaType: mt,
        config: parseDescriptor(o['config'], `${what}.config`),
        layers: o['layers'].map((l, i) => parseDescriptor(l, `${what}.layers[${i}]`))
    };
    return { kind: 'manifest', mediaType: mt, manifest };
}
function parseConfig(bytes, what) {
    const o = parseJson(bytes, what);
    if (typeof o['os'] !== 'string' || typeof o['architecture'] !== 'string') {
        throw new ImageError(`${what}: os and architecture are required`);
    }
    const rootfs = object(o['rootfs'], `${what}.rootfs`);
    if (!Array.isArray(rootfs['diff_ids']))
        throw new ImageError(`${what}.rootfs.diff_ids missing`);
    rootfs['diff_ids'].forEach((d, i) => parseDigest(d, `${what}.rootfs.diff_ids[${i}]`));
    return o;
}
// --- building -------------------------------------------------------------------------------------
function configMediaTypeFor(manifestType) {
    return manifestType === DOCKER_MANIFEST ? DOCKER_CONFIG : OCI_CONFIG;
}
/** Bytes with a fixed key order; the digest of these bytes is the image's identity. */
function serialize(value) {
    return Buffer.from(JSON.stringify(value), 'utf8');
}
function buildManifest(args) {
    return {
        schemaVersion: 2,
        mediaType: args.mediaType,
        config: args.config,
        layers: args.layers,
        ...(args.annotations && Object.keys(args.annotations).length
            ? { annotations: sortedRecord(args.annotations) }
            : {})
    };
}
function buildIndex(args) {
    return {
        schemaVersion: 2,
        mediaType: args.mediaType ?? OCI_INDEX,
        manifests: args.manifests,
        ...(args.annotations && Object.keys(args.annotations).length
            ? { annotations: sortedRecord(args.annotations) }
            : {})
    };
}
/** A descriptor for serialized content. */
function describeBytes(mediaType, bytes, extra = {}) {
    return { mediaType, digest: sha256$1(bytes), size: bytes.length, ...extra };
}
function sortedRecord(r) {
    return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// A CycloneDX 1.6 SBOM of one variant on one platform: exactly the packages its deps image
// installs (the plan's closure, each with the file chosen for the target, as the builders install
// it), the project's own local packages that the source layer carries, and the base image under
// them. Pure: the plan in, a JSON value out; the same inputs give the same bytes, serial number
// included, so a rebuild of the same commit attaches the same blob.
//
// CycloneDX rather than SPDX: its official JSON schema ships in an npm package
// (@cyclonedx/cyclonedx-library, res/schema/), against which the tests validate every document.
const CYCLONEDX_SPEC_VERSION = '1.6';
const CYCLONEDX_SCHEMA_URL = 'http://cyclonedx.org/schema/bom-1.6.schema.json';
/** The media type of a CycloneDX JSON document (IANA registered), as blob and artifact type. */
const CYCLONEDX_JSON = 'application/vnd.cyclonedx+json';
/** Property names, namespaced as the CycloneDX property taxonomy asks of tools. */
const PROP = {
    variant: 'fast-build:variant',
    variantHash: 'fast-build:variant-hash',
    platform: 'fast-build:platform',
    python: 'fast-build:python',
    builder: 'fast-build:builder',
    baseImage: 'fast-build:base-image',
    baseImageDigest: 'fast-build:base-image-digest',
    local: 'fast-build:local',
    source: 'fast-build:source',
    file: 'fast-build:file',
    unavailable: 'fast-build:unavailable'
};
/** A reference split at a pinned digest: `name@sha256:\u2026` \u2192 name and digest; else no digest. */
function baseImageOf(reference) {
    const at = reference.lastIndexOf('@');
    const digest = at > 0 ? reference.slice(at + 1) : '';
    return isDigest(digest) ? { reference, digest } : { reference, digest: null };
}
function cycloneDxSbom(input) {
    const { variant, platform: p } = input;
    const base = input.base ?? baseImageOf(variant.baseImage);
    const baseComponent = baseImageComponent(base, p.platform.architecture);
    const installed = p.closure.installed.map((e) => pypiComponent(e, p));
    const local = dedupe(p.closure.local.map((e) => e.package)).map(localComponent);
    const properties = [
        { name: PROP.variant, value: variant.name },
        { name: PROP.variantHash, value: variant.hash },
        { name: PROP.platform, value: formatPlatform(p.platform) },
        { name: PROP.python, value: formatPython(variant.python) },
        { name: PROP.builder, value: variant.builder.kind },
        { name: PROP.baseImage, value: base.reference },
        {
            name: PROP.baseImageDigest,
            // Said in words, so a reader of an unpinned document knows the base is named, not identified.
            value: base.digest ??
                'unresolved: named by reference only (pin base-image as \u2026@sha256:\u2026 to record its digest)'
        }
    ];
    const bom = {
        $schema: CYCLONEDX_SCHEMA_URL,
        bomFormat: 'CycloneDX',
        specVersion: CYCLONEDX_SPEC_VERSION,
        version: 1,
        metadata: {
            timestamp: input.created,
            lifecycles: [{ phase: 'build' }],
            tools: { components: [{ type: 'application', name: 'fast-build', version: VERSION }] },
            component: {
                type: 'container',
                'bom-ref': IMAGE_REF,
                name: input.name ?? variant.name
            },
            properties
        },
        components: [baseComponent, ...installed, ...local],
        // The image is the base plus every package. Edges between packages are left out: the closure
        // keeps only who first required each one, and a partial graph would claim less than is true.
        dependencies: [
            {
                ref: IMAGE_REF,
                dependsOn: [baseComponent, ...installed, ...local].map((c) => c['bom-ref'])
            }
        ]
    };
    // A serial number is a UUID; this one is derived from the rest of the document (variant hash,
    // platform, packages, created time\u2026), so the same inputs give the same document and any change
    // gives another serial.
    return {
        $schema: bom.$schema,
        bomFormat: bom.bomFormat,
        specVersion: bom.specVersion,
        serialNumber: `urn:uuid:${nameBasedUuid(canonicalJson(bom))}`,
        version: bom.version,
        metadata: bom.metadata,
        components: bom.components,
        dependencies: bom.dependencies
    };
}
/** The document's bytes: indented JSON and a newline, the same for `fast-build sbom` and the attached blob. */
function sbomBytes(doc) {
    return Buffer.from(JSON.stringify(doc, null, 2) + '\n', 'utf8');
}
const IMAGE_REF = 'image';
const BASE_REF = 'base-image';
// --- packages ---------------------------------------------------------------------------------
/**
 * `pkg:pypi/<name>@<version>` per the purl spec's pypi type: the name lowercased with `_` as `-`
 * (a PEP 503 name already is), the version percent-encoded (`+` of a local version is `%2B`).
 */
function pypiPurl(name, version) {
    const n = name.toLowerCase().replace(/[-_.]+/g, '-');
    return `pkg:pypi/${encodeURIComponent(n)}${version ? `@${encodeURIComponent(version)}` : ''}`;
}
const HASH_ALGS = {
    md5: 'MD5',
    sha1: 'SHA-1',
    sha256: 'SHA-256',
    sha384: 'SHA-384',
    sha512: 'SHA-512',
    blake2b_256: 'BLAKE2b-256',
    blake2b_384: 'BLAKE2b-384',
    blake2b_512: 'BLAKE2b-512'
};
function fileHashes(file) {
    return Object.entries(file.hashes)
        .filter(([alg, hex]) => HASH_ALGS[alg] !== undefined && /^[0-9a-f]+$/.test(hex))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([alg, hex]) => ({ alg: HASH_ALGS[alg], content: hex }));
}
/**
 * Where the installed file comes from, without userinfo (the lock readers strip it already; a
 * model built elsewhere may not have). A Poetry lock names files, not URLs: then the index's
 * project page, where the installer finds the file.
 */
function fileUrl(source, file, name) {
    if (file?.url)
        return withoutUserinfo(file.url);
    switch (source.kind) {
        case 'registry': {
            // '' is a pylock entry that names no index: nowhere to point at.
            if (source.url === '')
                return null;
            return `${withoutUserinfo(source.url).replace(/\/+$/, '')}/${name}/`;
        }
        case 'url':
            return withoutUserinfo(source.url);
        default:
            return null;
    }
}
function pypiComponent(e, p) {
    const pkg = e.package;
    // The file the builders install: the wheel chosen for the target, else the first sdist (as
    // `plan --json` reports it).
    const [file] = filesForTarget(pkg.files, p.target);
    const purl = pypiPurl(pkg.name, pkg.version);
    const hashes = file ? fileHashes(file) : [];
    const refs = [];
    if (pkg.source.kind === 'git') {
        const url = withoutUserinfo(pkg.source.url);
        refs.push({ type: 'vcs', url: pkg.source.commit ? `${url}#${pkg.source.commit}` : url });
    }
    else {
        const url = fileUrl(pkg.source, file, pkg.name);
        if (url)
            refs.push({ type: 'distribution', url, ...(hashes.length ? { hashes } : {}) });
    }
    const unavailable = unavailableReason(pkg, p.target);
    const properties = [
        { name: PROP.source, value: sourceLabel(pkg.source) },
        ...(file ? [{ name: PROP.file, value: file.name }] : []),
        ...(unavailable ? [{ name: PROP.unavailable, value: unavailable }] : [])
    ];
    return {
        type: 'library',
        'bom-ref': purl,
        name: pkg.name,
        ...(pkg.version ? { version: pkg.version } : {}),
        scope: 'required',
        ...(hashes.length ? { hashes } : {}),
        purl,
        ...(refs.length ? { externalReferences: refs } : {}),
        properties
    };
}
/**
 * The project itself, workspace members and path dependencies: built from the source, so no file
 * hash, and no pypi purl (a local package of the same name as one on PyPI is not that package).
 */
function localComponent(pkg) {
    return {
        type: 'library',
        'bom-ref': `local:${pkg.name}${pkg.version ? `@${pkg.version}` : ''}`,
        name: pkg.name,
        ...(pkg.version ? { version: pkg.version } : {}),
        scope: 'required',
        properties: [
            { name: PROP.local, value: 'true' },
            { name: PROP.source, value: sourceLabel(pkg.source) }
        ]
    };
}
function dedupe(packages) {
    const seen = new Set();
    return packages
        .filter((p) => !seen.has(p.id) && (seen.add(p.id), true))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
// --- the base image ---------------------------------------------------------------------------
/**
 * `python:3.12-slim` \u2192 docker.io/library/python, tag 3.12-slim; `ghcr.io/acme/base:1@sha256:\u2026` \u2192
 * ghcr.io/acme/base. Docker's normalization, as `docker pull` reads a name. `oci:DIR:TAG` names a
 * layout: no repository, the directory's last segment as name.
 */
function splitImageReference(reference) {
    let rest = reference.trim();
    const at = rest.lastIndexOf('@');
    if (at > 0)
        rest = rest.slice(0, at);
    if (rest.startsWith('oci:')) {
        const body = rest.slice(4);
        const colon = body.lastIndexOf(':');
        const dir = (colon > 0 ? body.slice(0, colon) : body).replace(/\/+$/, '');
        return {
            repository: null,
            name: dir.slice(dir.lastIndexOf('/') + 1) || dir,
            tag: colon > 0 ? body.slice(colon + 1) : null
        };
    }
    let tag = null;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
    }
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
    const repository = hasHost ? rest : slash < 0 ? `docker.io/library/${rest}` : `docker.io/${rest}`;
    return { repository, name: repository.slice(repository.lastIndexOf('/') + 1), tag };
}
/** `pkg:oci/<name>@sha256%3A<hex>?arch=\u2026&repository_url=\u2026&tag=\u2026`, per the purl spec's oci type. */
function ociPurl(name, digest, qualifiers) {
    const q = Object.entries(qualifiers)
        .filter((kv) => kv[1] !== null && kv[1] !== '')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        // Values are percent-encoded, except `/` and `:`, which the spec's own examples leave as they are.
        .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2F/gi, '/').replace(/%3A/gi, ':')}`);
    return `pkg:oci/${encodeURIComponent(name.toLowerCase())}${digest ? `@${encodeURIComponent(digest)}` : ''}${q.length ? `?${q.join('&')}` : ''}`;
}
function baseImageComponent(base, arch) {
    const { repository, name, tag } = splitImageReference(base.reference);
    const purl = ociPurl(name, base.digest, { arch, repository_url: repository, tag });
    return {
        type: 'container',
        'bom-ref': BASE_REF,
        name: repository ?? name,
        ...(tag ? { version: tag } : {}),
        ...(base.digest ? { hashes: [{ alg: 'SHA-256', content: digestHex(base.digest) }] } : {}),
        purl,
        properties: [
            { name: PROP.baseImage, value: base.reference },
            ...(base.digest ? [] : [{ name: PROP.baseImageDigest, value: 'unresolved' }])
        ]
    };
}
// --- serial number ----------------------------------------------------------------------------
/** RFC 4122's URL namespace: the name hashed below is a URN of ours. */
const NAMESPACE_URL = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');
/** A name-based UUID (version 5, SHA-1, as RFC 4122 \u00a74.3 makes it) of `urn:fast-build:sbom:<content>`. */
function nameBasedUuid(content) {
    const h = node_crypto.createHash('sha1').update(NAMESPACE_URL).update(`urn:fast-build:sbom:${content}`, 'utf8').digest();
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    const x = h.subarray(0, 16).toString('hex');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

var cyclonedx = /*#__PURE__*/Object.freeze({
    __proto__: null,
    CYCLONEDX_JSON: CYCLONEDX_JSON,
    CYCLONEDX_SCHEMA_URL: CYCLONEDX_SCHEMA_URL,
    CYCLONEDX_SPEC_VERSION: CYCLONEDX_SPEC_VERSION,
    PROP: PROP,
    baseImageOf: baseImageOf,
    cycloneDxSbom: cycloneDxSbom,
    ociPurl: ociPurl,
    pypiPurl: pypiPurl,
    sbomBytes: sbomBytes,
    splitImageReference: splitImageReference
});

// An SBOM attached to the image it describes, as an OCI artifact (image-spec 1.1): an image
// manifest whose `artifactType` says what it is, whose config is the empty descriptor, whose one
// layer is the document, and whose `subject` is the app image's platform manifest. A registry with
// the referrers API (distribution-spec 1.1) lists it under the subject by itself; elsewhere (a
// registry without it, such as distribution 2.8, and every OCI image layout) it is also tagged
// `sha256-<hex of the subject>.sbom`, the tag cosign uses for SBOMs, so that a client that knows
// the image's digest finds its SBOM. Only the ImageStore interface is used.
/** The empty descriptor's media type and content (image-spec 1.1, "Guidance for an empty descriptor"). */
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const EMPTY_JSON = Buffer.from('{}', 'utf8');
const EMPTY_DESCRIPTOR = {
    mediaType: OCI_EMPTY,
    digest: sha256$1(EMPTY_JSON),
    size: EMPTY_JSON.length
};
const CREATED = 'org.opencontainers.image.created';
const TITLE = 'org.opencontainers.image.title';
/** The fallback tag of the SBOM of `subject`: `sha256-<hex>.sbom`. */
function sbomTag(subject) {
    return `sha256-${digestHex(subject)}.sbom`;
}
/** The artifact manifest for a document (pure): its bytes and the one blob it adds besides `{}`. */
function sbomArtifact(args) {
    const mediaType = args.mediaType ?? CYCLONEDX_JSON;
    const layer = {
        mediaType,
        digest: sha256$1(args.document),
        size: args.document.length,
        // What `oras pull` names the file.
        annotations: { [TITLE]: 'sbom.cdx.json' }
    };
    const manifest = serialize({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: mediaType,
        config: EMPTY_DESCRIPTOR,
        layers: [layer],
        // Only what identifies the subject: a platform or annotations there would add nothing.
        subject: { mediaType: args.subject.mediaType, digest: args.subject.digest, size: args.subject.size },
        annotations: { [CREATED]: args.created }
    });
    return { manifest, layer };
}
/**
 * Push `document` as an artifact referring to `subject`, which must be in `store` already (or be
 * on its way: see `after`). The same document and subject give the same artifact, so attaching
 * again changes nothing.
 */
async function attachSbom(args) {
    const { store, subject } = args;
    const document = Buffer.isBuffer(args.document) ? args.document : sbomBytes(args.document);
    const { manifest, layer } = sbomArtifact({ subject, document, created: args.created });
    // Independent requests, at once: the empty config (there after the first SBOM), the document
    // (new with each image), and whether the referrers API answers.
    const [, , answers] = await Promise.all([
        store.putBlob(EMPTY_DESCRIPTOR, EMPTY_JSON),
        store.putBlob(layer, document, { fresh: true }),
        store.supportsReferrers?.(subject.digest)
    ]);
    // A store that does not say (an ImageStore without the method) is treated as one without the
    // API: a tag too many costs nothing, an SBOM nobody can find defeats the purpose.
    const referrers = answers ?? false;
    const tag = referrers ? null : sbomTag(subject.digest);
    await args.after;
    const digest = await store.putManifest(tag, manifest, OCI_MANIFEST);
    return {
        descriptor: { mediaType: OCI_MANIFEST, digest, size: manifest.length },
        tag,
        referrers
    };
}

function emptyStats() {
    return { uploaded: 0, mounted: 0, skipped: 0, bytesUploaded: 0 };
}
/** Count one blob's outcome (and its bytes, when it went up) into `stats`. */
function countBlob(stats, outcome, size) {
    if (outcome === 'uploaded') {
        stats.uploaded++;
        stats.bytesUploaded += size;
    }
    else if (outcome === 'mounted')
        stats.mounted++;
    else
        stats.skipped++;
}
/** Add `more` into `stats`. */
function addStats(stats, more) {
    stats.uploaded += more.uploaded;
    stats.mounted += more.mounted;
    stats.skipped += more.skipped;
    stats.bytesUploaded += more.bytesUploaded;
}
/** Blobs written at once: they are independent, and each is mostly waiting on the registry. */
const BLOB_WRITES = 4;
/** What the tags of `image` name: its index over the manifests, or its one manifest. */
function topOf(image) {
    if (image.index) {
        const manifests = image.manifests.map((m) => describeBytes(m.mediaType, m.bytes, m.platform ? { platform: m.platform } : {}));
        const { mediaType, annotations } = image.index;
        return {
            bytes: serialize(buildIndex({ mediaType, manifests, ...(annotations ? { annotations } : {}) })),
            mediaType
        };
    }
    if (image.manifests.length !== 1)
        throw new Error(`an image without an index has one manifest, not ${image.manifests.length}`);
    return image.manifests[0];
}
/**
 * What the tags of `image` will name once it is pushed (its digest and media type), known before
 * it is: an image on top of it can be made while it is still being written.
 */
function describeImage(image) {
    const top = topOf(image);
    return { digest: describeBytes(top.mediaType, top.bytes).digest, mediaType: top.mediaType };
}
/**
 * Write `image` to `store` under `tags` (none: by digest only). A blob with `say` reports it
 * before it goes up. With `after`, the blobs go up at once but no manifest is written until
 * `after` resolves (the image below is complete), and none at all if it rejects.
 */
async function pushImage(store, image, tags, onProgress, after) {
    if (after)
        handled(after); // awaited once the blobs are up
    const stats = emptyStats();
    const writes = limit(BLOB_WRITES);
    await Promise.all(image.manifests
        .flatMap((m) => m.blobs)
        .map((b) => writes(async () => {
        if (b.say)
            onProgress?.(b.say);
        const outcome = 'outcome' in b
            ? await b.outcome
            : await store.putBlob(b.descriptor, b.data, {
                ...(b.fresh ? { fresh: true } : {}),
                ...(b.ask === false ? { ask: false } : {})
            });
        countBlob(stats, outcome, b.descriptor.size);
    })));
    await after;
    const put = async (tag, bytes, mediaType) => {
        const digest = await store.putManifest(tag, bytes, mediaType);
        stats.uploaded++;
        stats.bytesUploaded += bytes.length;
        return digest;
    };
    const top = topOf(image);
    if (image.index)
        await Promise.all(image.manifests.map((m) => put(null, m.bytes, m.mediaType)));
    let digest = null;
    for (const tag of tags)
        digest = await put(tag, top.bytes, top.mediaType);
    digest ??= await put(null, top.bytes, top.mediaType);
    return { digest, mediaType: top.mediaType, stats };
}

/** The config of an image with `layers` on top (see appendLayers). */
function appendToConfig(base, layers, patch = {}) {
    return {
        ...base,
        ...(patch.created !== undefined ? { created: patch.created } : {}),
        ...(patch.config !== undefined ? { config: patch.config } : {}),
        rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...layers.map((l) => l.diffId)] },
        history: [...(base.history ?? []), ...layers.map((l) => l.history)]
    };
}
/**
 * The image with `layers` on top. Fields of the config it does not know are kept as they were
 * (and where they were: the bytes keep the key order); the manifest stays in its family (OCI or
 * Docker schema 2), with `annotations` when given.
 */
function appendLayers(image, layers, patch = {}, manifest = {}) {
    const config = appendToConfig(image.config, layers, patch);
    const mediaType = image.manifest.mediaType;
    const configBytes = serialize(config);
    const configDescriptor = describeBytes(configMediaTypeFor(mediaType), configBytes);
    const edited = buildManifest({
        mediaType,
        config: configDescriptor,
        layers: [...image.manifest.layers, ...layers.map((l) => l.descriptor)],
        ...(manifest.annotations ? { annotations: manifest.annotations } : {})
    });
    const manifestBytes = serialize(edited);
    return {
        config,
        configBytes,
        configDescriptor,
        manifest: edited,
        manifestBytes,
        manifestDescriptor: describeBytes(mediaType, manifestBytes)
    };
}

/**
 * The project's source tree cannot be packed as it is: a `.dockerignore` pattern does not parse, a
 * symlink points outside the tree, a file name cannot go into a tar, git cannot list the files...
 * `location.file` names the file (or the link), `line` the `.dockerignore` line.
 */
class SourceError extends FastBuildError {
}
/**
 * A package of a run-time group (`runtime-groups`) cannot be installed by pip when the container
 * starts: it comes from git or a local archive, or the lock lacks the hashes pip needs.
 * `location` is the package's entry in the lock.
 */
class RuntimeGroupError extends FastBuildError {
}
/**
 * The Dockerfile builder cannot build a variant's deps image: a package pip cannot fetch into the
 * build context, a Dockerfile that is missing, or the engine failing (the message then ends with
 * the build's last lines). `location` names the lock entry or the Dockerfile.
 */
class DockerfileError extends FastBuildError {
}

// Pinned pip requirements from a closure, for one target: `name==version` with a `--hash` line for
// every file pip may install it from, markers already evaluated (the closure is per target), local
// source trees left out (they ship with the source layer). Two users: run-time groups (installed
// when the container starts) and the Dockerfile builder (installed by the user's Dockerfile). Pure.
function compare$1(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/**
 * A URL fit to be written into an image or a build context, or a message: credentials never are.
 * The lock model's URLs have none already (see keepUserinfo); this holds for URLs from elsewhere.
 */
function withoutCredentials(url) {
    return withoutUserinfo(url);
}
/** sha256 digests of `files`; refuses when one has none (pip's --require-hashes needs them all). */
function sha256s(pkg, files, o) {
    const out = new Set();
    for (const f of files) {
        const h = f.hashes['sha256'];
        if (!h)
            o.refuse(pkg, `file ${f.name}`, 'the lock records no sha256 for it, which pip --require-hashes needs');
        out.add(h.toLowerCase());
    }
    return [...out].sort(compare$1);
}
/**
 * The files pip may choose from on the target: every compatible wheel and the sdists. pip ranks
 * the candidates itself; listing all of them (not only the wheel we would pick) keeps a different
 * but valid choice from failing the hash check.
 */
function installableFiles(pkg, target) {
    return pkg.files.filter((f) => f.kind === 'sdist' || (f.kind === 'wheel' && wheelSupports(f.name, target)));
}
/** The requirements of these closure entries on `target`, sorted by name. */
function pinnedRequirements(entries, target, o) {
    const out = [];
    for (const { package: pkg } of entries) {
        const s = pkg.source;
        switch (s.kind) {
            case 'directory':
                continue;
            case 'registry': {
                if (pkg.version === null)
                    o.refuse(pkg, 'from an index', 'the lock records no version');
                const reason = unavailableReason(pkg, target);
                if (reason)
                    o.refuse(pkg, `on ${formatPlatform(target.platform)}`, reason);
                const files = installableFiles(pkg, target);
                if (files.length === 0)
                    o.refuse(pkg, 'from an index', 'the lock lists no files for it');
                out.push({
                    name: pkg.name,
                    version: pkg.version,
                    requirement: `${pkg.name}==${pkg.version}`,
                    hashes: sha256s(pkg, files, o),
                    // A lock that does not name the index (pylock may omit it) means PyPI, as for pip.
                    index: s.url === '' ? PYPI_SIMPLE : withoutCredentials(s.url)
                });
                continue;
            }
            case 'url': {
                const [file] = filesForTarget(pkg.files, target);
                if (!file)
                    o.refuse(pkg, `from ${withoutCredentials(s.url)}`, 'the lock records no archive with a hash for it');
                const url = withoutCredentials(file.url ?? s.url);
                out.push({
                    name: pkg.name,
                    version: pkg.version,
                    requirement: `${pkg.name} @ ${url}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
                    hashes: sha256s(pkg, [file], o),
                    index: null
                });
                continue;
            }
            case 'git': {
                if (o.git === 'refuse' || !s.commit)
                    o.refuse(pkg, `from git ${withoutCredentials(s.url)}`, s.commit ? o.why.git : 'the lock records no commit for it');
                const url = withoutCredentials(s.url.replace(/^git\+/, ''));
                out.push({
                    name: pkg.name,
                    version: pkg.version,
                    requirement: `${pkg.name} @ git+${url}@${s.commit}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
                    hashes: [],
                    index: null
                });
                continue;
            }
            case 'file':
                return o.refuse(pkg, `from the local archive ${s.path}`, o.why.file);
        }
    }
    return out.sort((a, b) => compare$1(a.name, b.name) || compare$1(a.version ?? '', b.version ?? ''));
}
/** The index to install from: the lock's own (first used), else PyPI; the others as extra indexes. */
function requirementIndexes(requirements) {
    const seen = [];
    for (const r of requirements)
        if (r.index && !seen.includes(r.index))
            seen.push(r.index);
    const [index = PYPI_SIMPLE, ...extra] = seen;
    return { index, extra };
}
/** `name==version \` and one `--hash` line per file, for each requirement. */
function requirementLines(requirements) {
    const lines = [];
    for (const r of requirements) {
        lines.push(`${r.requirement}${r.hashes.length ? ' \\' : ''}`);
        r.hashes.forEach((h, i) => lines.push(`    --hash=sha256:${h}${i < r.hashes.length - 1 ? ' \\' : ''}`));
    }
    return lines;
}

// Run-time groups (`runtime-groups = ["exp"]`): packages that stay out of the deps image and its
// hash, and are installed by pip when the container starts. The app image gets one small layer
// for them, between the deps layers and the source layer, holding
//
//   /opt/fast-build/runtime-requirements.txt   pinned and hashed, for this variant and platform
//   /opt/fast-build/entrypoint                 a POSIX sh shim: pip install (once), then exec "$@"
//
// and the image's Entrypoint becomes the shim followed by the entrypoint it had. Everything here
// is pure: the plan's run-time closure in, texts and layer entries out. Pushing the layer is the
// push code's business (fast-path.ts); the hash never sees any of this (plan/hash.ts).
/** Where the layer's files go in the image. */
const RUNTIME_DIR = '/opt/fast-build';
const REQUIREMENTS_PATH = `${RUNTIME_DIR}/runtime-requirements.txt`;
const SHIM_PATH = `${RUNTIME_DIR}/entrypoint`;
/**
 * The layer's one file time (1980-01-01, as deps layers): it depends on the lock only, so the same
 * run-time packages give the same layer on every commit, uploaded once.
 */
const RUNTIME_MTIME = 315532800;
/** Image label: how many packages the shim installs (on this platform). */
const RUNTIME_LABEL = 'dev.fast-build.runtime-packages';
/** Overrides the index the shim installs from (a mirror), as FAST_BUILD_INDEX_URL does for builds. */
const INDEX_ENV = 'FAST_BUILD_INDEX_URL';
function refuse(pkg, lockPath, what, why) {
    throw new RuntimeGroupError(`run-time package ${pkg.name}${pkg.version ? ` ${pkg.version}` : ''} ${what}: ${why}`, { file: lockPath, line: pkg.line }, `move ${pkg.name} out of the runtime group (tool.fast-build.runtime-groups) into a variant's groups, so it is built into the deps image`);
}
/**
 * The requirements for a platform's run-time packages, sorted by name. Markers are already
 * evaluated (the closure is per target), so none are written. Local source trees ship with the
 * source layer and are left out; what pip cannot fetch and check by hash (git checkouts, local
 * archives) is refused.
 */
function runtimeRequirements(entries, target, lockPath) {
    return pinnedRequirements(entries, target, {
        refuse: (pkg, what, why) => refuse(pkg, lockPath, what, why),
        git: 'refuse',
        why: {
            git: 'pip cannot check a git checkout against a hash, and the container installs with --require-hashes',
            file: 'the file is not in the image, so the container cannot install it'
        }
    });
}
/** The index to install from: the lock's own (first used), else PyPI; the others as extra indexes. */
function runtimeIndexes(requirements) {
    return requirementIndexes(requirements);
}
/** The pip requirements file: a header, then `name==version \` and one `--hash` line per file. */
function requirementsText(variant, platform, requirements) {
    const lines = [
        `# Generated by fast-build for variant ${variant}, platform ${formatPlatform(platform)}.`,
        `# The run-time group packages: ${SHIM_PATH} installs them with pip when the container starts.`,
        "# They are not in the image's hash: the deps image does not change when they do.",
        ''
    ];
    lines.push(...requirementLines(requirements));
    return lines.join('\n') + '\n';
}
/** `text` as one single-quoted sh word. */
function shQuote(text) {
    return `'${text.replace(/'/g, `'\\''`)}'`;
}
/** `a==1, b==2, c==3 and 4 more` */
function summary(requirements) {
    const shown = requirements.slice(0, 3).map((r) => (r.version ? `${r.name}==${r.version}` : r.name));
    const more = requirements.length - shown.length;
    return shown.join(', ') + (more > 0 ? ` and ${more} more` : '');
}
/**
 * The entrypoint shim. Without packages it only runs the command. With packages it installs them
 * once per container (a marker keyed by the requirements' sha256, under $TMPDIR or /tmp so a
 * read-only root with a writable site-packages still works), then runs the command with exec, so
 * signals reach it directly.
 */
function shimText(args) {
    const { requirements: reqs, install } = args;
    const head = [
        '#!/bin/sh',
        `# Generated by fast-build for variant ${args.variant}, platform ${formatPlatform(args.platform)}.`
    ];
    if (reqs.length === 0) {
        return [
            ...head,
            '# No run-time group packages on this platform: it only runs the command.',
            'exec "$@"',
            ''
        ].join('\n');
    }
    head.push(`# Installs the run-time group packages of ${REQUIREMENTS_PATH}`, '# with pip when the container starts (once per container), then runs the command. They are', "# not in the image's hash.", `# ${INDEX_ENV} replaces the index they come from (a mirror; credentials in the URL or in`, '# ~/.netrc, never in the image).');
    const { index, extra } = runtimeIndexes(reqs);
    const n = `${reqs.length} run-time package${reqs.length === 1 ? '' : 's'}`;
    const py = shQuote(install.interpreter);
    const site = shQuote(install.sitePackages);
    const defaults = [`--index-url ${shQuote(index)}`, ...extra.map((u) => `--extra-index-url ${shQuote(u)}`)];
    const say = (text) => `echo ${shQuote(`fast-build: ${text}`)} >&2`;
    // Inside double quotes only these four are special.
    const dq = (text) => text.replace(/["$`\\]/g, '\\$&');
    return [
        ...head,
        'set -u',
        `req=${shQuote(REQUIREMENTS_PATH)}`,
        `marker="\${TMPDIR:-/tmp}/fast-build-runtime-${args.requirementsSha256.slice(0, 16)}"`,
        // Running as root is what containers do; pip's warning about it would be noise on every start
        // (an environment setting, which pips older than the option ignore, unlike the flag).
        'fast_build_pip() {',
        `  PIP_ROOT_USER_ACTION=ignore ${py} -m pip install --no-deps --require-hashes --no-input --disable-pip-version-check --quiet \\`,
        `    --target ${site} "$@" -r "$req"`,
        '}',
        'if [ ! -e "$marker" ]; then',
        `  if [ -n "\${${INDEX_ENV}:-}" ]; then`,
        // A URL with credentials in it is not echoed.
        `    case "$${INDEX_ENV}" in *@*) from=${INDEX_ENV} ;; *) from="$${INDEX_ENV}" ;; esac`,
        `    echo "${dq(`fast-build: installing ${n} (${summary(reqs)}) into ${install.sitePackages} from `)}$from" >&2`,
        `    fast_build_pip --index-url "$${INDEX_ENV}"`,
        '  else',
        `    ${say(`installing ${n} (${summary(reqs)}) into ${install.sitePackages} from ${index}`)}`,
        `    fast_build_pip ${defaults.join(' ')}`,
        '  fi',
        '  status=$?',
        '  if [ "$status" -ne 0 ]; then',
        // Told apart only after a failure: the check costs a second Python start on every container.
        `    if ! ${py} -m pip --version >/dev/null 2>&1; then`,
        `      ${say(`the run-time group needs pip in the image, but ${install.interpreter} -m pip does not run: add pip to the project's dependencies (the deps image then has it), use a base image with pip, or move the run-time packages into a variant's groups`)}`,
        '    else',
        `      ${say(`installing the run-time packages of ${REQUIREMENTS_PATH} failed (pip says why above): check that the index serves the files the lock pins (${INDEX_ENV} sets another index) and that the container's user can write ${install.sitePackages}`)}`,
        '    fi',
        '    exit "$status"',
        '  fi',
        '  : >"$marker" 2>/dev/null || true',
        'fi',
        'exec "$@"',
        ''
    ].join('\n');
}
/** The requirements and shim of one platform of a variant. */
function runtimeFiles(args) {
    const { platform: p } = args;
    const requirements = runtimeRequirements(p.runtime, p.target, args.lockPath);
    const text = requirementsText(args.variant, p.platform, requirements);
    return {
        variant: args.variant,
        platform: p.platform,
        requirements,
        requirementsText: text,
        shimText: shimText({
            variant: args.variant,
            platform: p.platform,
            requirements,
            requirementsSha256: digestHex(sha256$1(text)),
            install: args.install
        })
    };
}
/** Whether the variant's app images get the run-time layer (any platform has run-time packages). */
function hasRuntime(platforms) {
    return platforms.some((p) => p.runtime.length > 0);
}
/** The layer's entries: the directories, the requirements (0644) and the shim (0755). */
function runtimeEntries(files) {
    const file = (path, text, executable) => {
        const bytes = Buffer.from(text, 'utf8');
        return { type: 'file', path: path.slice(1), executable, size: bytes.length, content: () => bytes };
    };
    return [
        { type: 'dir', path: 'opt' },
        { type: 'dir', path: RUNTIME_DIR.slice(1) },
        file(SHIM_PATH, files.shimText, true),
        file(REQUIREMENTS_PATH, files.requirementsText, false)
    ];
}
/**
 * The image Entrypoint with the shim in front (once): `podman run image cmd args` then runs the
 * shim, which installs and execs the original entrypoint with the command.
 */
function wrapEntrypoint(entrypoint) {
    const inner = entrypoint ?? [];
    return inner[0] === SHIM_PATH ? [...inner] : [SHIM_PATH, ...inner];
}

function parseEnv(list) {
    const env = new Map();
    for (const item of list ?? []) {
        const eq = item.indexOf('=');
        if (eq > 0)
            env.set(item.slice(0, eq), item.slice(eq + 1));
    }
    return env;
}
/** The container settings of the app image: the deps image's, with ours applied. */
function containerConfig(deps, s, runtime) {
    const config = { ...(deps.config ?? {}) };
    const env = parseEnv(config.Env);
    for (const [k, v] of Object.entries(s.env))
        env.set(k, v);
    if (s.pythonPath.length > 0) {
        const existing = env.get('PYTHONPATH');
        env.set('PYTHONPATH', [...s.pythonPath, ...(existing ? [existing] : [])].join(':'));
    }
    config.Env = [...env].map(([k, v]) => `${k}=${v}`);
    config.WorkingDir = s.workdir;
    if (s.entrypoint) {
        config.Entrypoint = [...s.entrypoint];
        // As in a Dockerfile: a new ENTRYPOINT drops the CMD inherited from the base.
        config.Cmd = s.cmd ? [...s.cmd] : null;
    }
    else if (s.cmd) {
        config.Cmd = [...s.cmd];
    }
    // The shim goes in front of whatever entrypoint the image ends up with; CMD stays as it is, so
    // `run image cmd args` runs the shim, which installs and then execs the entrypoint and command.
    if (runtime)
        config.Entrypoint = wrapEntrypoint(config.Entrypoint);
    config.Labels = sortedRecord({
        ...(config.Labels ?? {}),
        ...s.labels,
        ...(runtime ? { [RUNTIME_LABEL]: String(runtime.packages) } : {})
    });
    return config;
}
/** The layers the app image adds, in order: run-time, project, source; each with its history. */
function appLayers(layer, s, runtime, project) {
    const added = (ref, createdBy) => ({
        descriptor: { mediaType: ref.mediaType, digest: ref.digest, size: ref.size },
        diffId: ref.diffId,
        history: { created: s.created, created_by: createdBy, comment: 'fast-build' }
    });
    return [
        ...(runtime
            ? [
                added(runtime, `fast-build: run-time packages (${runtime.packages}), installed at start by ${SHIM_PATH}`)
            ]
            : []),
        ...(project
            ? [
                added(project, `fast-build: ${project.distributions.join(', ')} installed (metadata, .pth${project.scripts ? `, ${project.scripts} script${project.scripts === 1 ? '' : 's'}` : ''})`)
            ]
            : []),
        added(layer, `fast-build: source layer (${layer.files} files) at ${s.workdir}`)
    ];
}
/** Config and manifest of the app image for one platform of the deps image. */
function appImage(args) {
    const { depsManifest: m, settings: s } = args;
    if (args.depsConfig.rootfs.diff_ids.length !== m.layers.length) {
        throw new Error(`deps image ${args.depsRef}: its config lists ${args.depsConfig.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`);
    }
    const runtime = args.runtime ?? null;
    const revision = s.labels['org.opencontainers.image.revision'];
    return appendLayers({ manifest: m, config: args.depsConfig }, appLayers(args.layer, s, runtime, args.project ?? null), { created: s.created, config: containerConfig(args.depsConfig, s, runtime) }, 
    // Docker schema 2 has no annotations; the labels carry the same facts there.
    m.mediaType === DOCKER_MANIFEST
        ? {}
        : {
            annotations: {
                'org.opencontainers.image.base.digest': args.depsManifestDigest,
                'org.opencontainers.image.base.name': args.depsRef,
                ...(revision ? { 'org.opencontainers.image.revision': revision } : {})
            }
        });
}

/** A layer blob as one manifest family lists it. */
function layerRef(blob, manifestType) {
    return {
        digest: blob.digest,
        size: blob.size,
        mediaType: layerMediaType(manifestType, blob.compression),
        diffId: blob.diffId,
        files: blob.entries
    };
}
/** One platform's app image, and the blobs it needs written (each blob once per push). */
function platformWrite(args, p, written) {
    const type = p.manifest.mediaType;
    const runtime = args.runtime?.(p.platform) ?? null;
    const project = args.project?.(p.platform) ?? null;
    const layer = layerRef(args.layer, type);
    const runtimeRef = runtime ? { ...layerRef(runtime.blob, type), packages: runtime.packages } : null;
    const projectRef = project
        ? { ...layerRef(project.blob, type), distributions: project.distributions, scripts: project.scripts }
        : null;
    const image = appImage({
        depsManifest: p.manifest,
        depsManifestDigest: p.manifestDigest,
        depsConfig: p.config,
        depsRef: args.deps.ref,
        layer,
        runtime: runtimeRef,
        project: projectRef,
        settings: args.settings
    });
    args.onManifest?.(p.platform, image.manifestDescriptor);
    const blobs = [];
    const add = (blob, mediaType, say, outcome) => {
        // The same bytes carry the media type of the manifest family they are listed in.
        if (written.has(blob.digest))
            return;
        written.add(blob.digest);
        const descriptor = { mediaType, digest: blob.digest, size: blob.size };
        blobs.push(outcome ? { descriptor, outcome, say } : { descriptor, data: blob.data ?? { file: blob.file }, say });
    };
    const l = args.layer;
    add(l, layer.mediaType, `source layer ${l.digest.slice(7, 19)} (${formatBytes(l.size)})`, args.layerOutcome);
    if (runtime) {
        const r = runtime.blob;
        add(r, runtimeRef.mediaType, `run-time layer ${r.digest.slice(7, 19)} (${runtime.packages} packages, ${formatBytes(r.size)})`);
    }
    if (project) {
        const b = project.blob;
        add(b, projectRef.mediaType, `project layer ${b.digest.slice(7, 19)} (${project.distributions.join(', ')}, ${formatBytes(b.size)})`);
    }
    blobs.push({ descriptor: image.configDescriptor, data: image.configBytes, fresh: true });
    const write = {
        blobs,
        bytes: image.manifestBytes,
        mediaType: image.manifestDescriptor.mediaType,
        ...(p.indexEntry?.platform ? { platform: p.indexEntry.platform } : {})
    };
    return { write, manifest: image.manifestDescriptor };
}
async function pushAppImage(args) {
    const { deps } = args;
    const written = new Set();
    const images = deps.platforms.map((p) => platformWrite(args, p, written));
    const mediaType = deps.mediaType === DOCKER_MANIFEST_LIST ? DOCKER_MANIFEST_LIST : OCI_INDEX;
    const pushed = await pushImage(args.store, {
        manifests: images.map((i) => i.write),
        index: deps.isIndex
            ? {
                mediaType,
                ...(mediaType === OCI_INDEX
                    ? {
                        annotations: {
                            'org.opencontainers.image.base.digest': deps.digest,
                            'org.opencontainers.image.base.name': deps.ref
                        }
                    }
                    : {})
            }
            : null
    }, args.tags, args.onProgress, args.after);
    // The deps layers are referenced as they are; the registry checks they exist when the
    // manifest is pushed.
    const stats = {
        ...pushed.stats,
        skipped: pushed.stats.skipped + deps.platforms.reduce((n, p) => n + p.manifest.layers.length, 0)
    };
    const platforms = deps.platforms.map((p, i) => ({ platform: p.platform, manifest: images[i].manifest }));
    return { digest: pushed.digest, mediaType: pushed.mediaType, tags: args.tags, stats, platforms };
}

/**
 * An install as layer entries whose content comes straight out of the wheel when the layer is
 * written: a layer of installed packages with no staging tree, so no file is created, written and
 * read back (on a runner's disk that costs more than all the rest).
 */
class LayerDestination {
    layout;
    entries = [];
    constructor(layout) {
        this.layout = layout;
    }
    writeFile(file) {
        this.entries.push({ type: 'file', ...file });
    }
    finalize(dist) {
        const { entries } = this;
        return Promise.resolve({
            name: dist.name,
            version: dist.version,
            entries,
            installedSize: entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
            close: () => dist.close()
        });
    }
}

/**
 * A wheel cannot be read or installed as it is: not a zip file, a truncated or corrupt entry, a
 * RECORD hash that does not match, an entry that would land outside its install directory...
 * `location.file` is the wheel; `entry` is the name inside the wheel, when one is at fault.
 */
class WheelError extends FastBuildError {
    entry;
    constructor(message, wheel, hint, entry) {
        super(message, { file: wheel }, hint);
        this.entry = entry;
    }
}

// A small, strict ZIP reader for wheels (APPNOTE 6.3: end of central directory, ZIP64 end record
// and locator, ZIP64 extra fields; stored and deflate entries). It reads the central directory with
// positioned reads and never loads the whole archive: small entries are read in windows of several
// neighbouring entries and inflated in the thread pool; large ones are streamed in chunks. Every
// entry's size and CRC-32 are checked. Errors are `WheelError`s that name the file and the entry.
const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** "Version made by" host system (high byte) for Unix: external attributes then carry st_mode. */
const SYSTEM_UNIX = 3;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE, reflected, as zip uses it). Node has zlib.crc32 from 20.15/22.2; before that a
// slicing-by-8 table version is used.
const CRC_TABLES = (() => {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        t0[n] = c >>> 0;
    }
    const tables = [t0];
    for (let k = 1; k < 8; k++) {
        const prev = tables[k - 1];
        const t = new Uint32Array(256);
        for (let n = 0; n < 256; n++)
            t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
        tables.push(t);
    }
    return tables;
})();
/** CRC-32 in JavaScript (slicing-by-8); `crc` continues a previous value. */
function crc32Table(data, crc = 0) {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
    let c = ~crc >>> 0;
    let i = 0;
    const n = data.length;
    for (; n - i >= 8; i += 8) {
        const a = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
        c =
            t7[a & 0xff] ^
                t6[(a >>> 8) & 0xff] ^
                t5[(a >>> 16) & 0xff] ^
                t4[a >>> 24] ^
                t3[data[i + 4]] ^
                t2[data[i + 5]] ^
                t1[data[i + 6]] ^
                t0[data[i + 7]];
    }
    for (; i < n; i++)
        c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
}
const nativeCrc32 = zlib__namespace.crc32;
/** CRC-32 of `data`, continuing `crc`: node:zlib's when this Node has it, else the table version. */
function crc32(data, crc = 0) {
    return nativeCrc32 ? nativeCrc32(data, crc) >>> 0 : crc32Table(data, crc);
}
// ---------------------------------------------------------------------------------------------
// Names
// Code page 437, bytes 0x80-0xFF (0x00-0x7F are ASCII, as in Python's cp437 codec).
const CP437_HIGH = '\u00c7\u00fc\u00e9\u00e2\u00e4\u00e0\u00e5\u00e7\u00ea\u00eb\u00e8\u00ef\u00ee\u00ec\u00c4\u00c5\u00c9\u00e6\u00c6\u00f4\u00f6\u00f2\u00fb\u00f9\u00ff\u00d6\u00dc\u00a2\u00a3\u00a5\u20a7\u0192\u00e1\u00ed\u00f3\u00fa\u00f1\u00d1\u00aa\u00ba\u00bf\u2310\u00ac\u00bd\u00bc\u00a1\u00ab\u00bb\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556\u2555\u2563\u2551\u2557\u255d\u255c\u255b\u2510\u2514\u2534\u252c\u251c\u2500\u253c\u255e\u255f\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u2567\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256b\u256a\u2518\u250c\u2588\u2584\u258c\u2590\u2580\u03b1\u00df\u0393\u03c0\u03a3\u03c3\u00b5\u03c4\u03a6\u0398\u03a9\u03b4\u221e\u03c6\u03b5\u2229\u2261\u00b1\u2265\u2264\u2320\u2321\u00f7\u2248\u00b0\u2219\u00b7\u221a\u207f\u00b2\u25a0\u00a0';
function decodeCp437(bytes) {
    let s = '';
    for (const b of bytes)
        s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
    return s;
}
const utf8 = new TextDecoder('utf-8', { fatal: true });
/**
 * Entries with less deflate data than this are inflated right here; bigger ones on the thread
 * pool, leaving this thread (which hashes and tars every byte of a layer) for the rest.
 */
const INFLATE_SYNC_BELOW = 4 * 1024;
const STREAM_CHUNK = 4 * 1024 * 1024;
class ZipReader {
    fh;
    path;
    fileSize;
    entries;
    byName;
    internal;
    /** Deflate entries inflated so far: whether their data was one stream with nothing after it. */
    exact = new Map();
    /** Deflate data kept from a window (`keepDeflatedFrom`), until `raw` hands it out. */
    kept = new Map();
    constructor(fh, 
    /** The file, as given to `open` (errors name it). */
    path, fileSize, entries, internal) {
        this.fh = fh;
        this.path = path;
        this.fileSize = fileSize;
        this.entries = entries;
        this.internal = internal;
        this.byName = new Map(entries.map((e) => [e.name, e]));
    }
    /** Open a zip file and read its central directory. Close it with `close()`. */
    static async open(path) {
        let fh;
        try {
            fh = await promises.open(path, 'r');
        }
        catch (e) {
            throw new WheelError(`cannot open the wheel: ${e.message}`, path, 'check that the file exists and is readable');
        }
        try {
            const { size } = await fh.stat();
            const { entries, internal } = await readCentralDirectory(fh, path, size);
            return new ZipReader(fh, path, size, entries, internal);
        }
        catch (e) {
            await fh.close();
            throw e;
        }
    }
    async close() {
        await this.fh.close();
    }
    entry(name) {
        return this.byName.get(name);
    }
    /** One entry's content, inflated and checked. For entries that fit in memory. */
    async read(entry) {
        const start = await this.dataStart(entry, null, 0);
        const raw = await this.readExactly(start, entry.compressedSize, entry);
        return this.decode(entry, raw);
    }
    /**
     * Whether the entry's deflate data, inflated by now, was exactly one complete deflate stream:
     * nothing left over after its last block (Python's zipfile, and so pip, ignores such bytes, but
     * whoever reuses the data as a deflate stream of its own must not carry them). False for an entry
     * not inflated yet, or stored.
     */
    exactDeflate(entry) {
        return this.exact.get(entry) === true;
    }
    /** The entry's data as the file holds it (compressed, for a deflate entry), in chunks. */
    async *raw(entry) {
        const kept = this.kept.get(entry);
        if (kept) {
            this.kept.delete(entry);
            yield kept;
            return;
        }
        const start = await this.dataStart(entry, null, 0);
        yield* this.rawChunks(entry, start);
    }
    /**
     * Extract many entries: small ones in windows of neighbouring entries (one read each, inflated in
     * parallel), large ones streamed. Handlers run concurrently; order is not guaranteed.
     */
    async extract(entries, handlers, opts = {}) {
        const windowBytes = opts.windowBytes ?? 4 * 1024 * 1024;
        const threshold = opts.streamThreshold ?? 16 * 1024 * 1024;
        const concurrency = Math.max(1, opts.concurrency ?? 4);
        const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
        const jobs = [];
        let group = [];
        let groupStart = 0;
        let groupEnd = 0;
        let groupInflated = 0;
        const flush = () => {
            if (group.length === 0)
                return;
            const g = group;
            const [s, e] = [groupStart, groupEnd];
            jobs.push(() => this.extractWindow(g, s, e, handlers, opts.keepDeflatedFrom ?? Infinity));
            group = [];
        };
        for (const entry of sorted) {
            if (entry.size >= threshold || entry.compressedSize >= threshold) {
                jobs.push(() => this.extractStream(entry, handlers));
                continue;
            }
            const info = this.internal.get(entry);
            // Room for the local header with a generous local extra field; never past the next entry.
            const estEnd = Math.min(info.limit, entry.localHeaderOffset +
                LOCAL_SIZE +
                info.rawName.length +
                info.cdExtraLength +
                256 +
                entry.compressedSize);
            if (group.length > 0 &&
                (estEnd - groupStart > windowBytes ||
                    entry.localHeaderOffset - groupEnd > 64 * 1024 ||
                    groupInflated + entry.size > windowBytes * 8)) {
                flush();
            }
            if (group.length === 0) {
                groupStart = entry.localHeaderOffset;
                groupInflated = 0;
            }
            group.push(entry);
            groupEnd = estEnd;
            groupInflated += entry.size;
        }
        flush();
        await runPool(jobs, concurrency);
    }
    // -------------------------------------------------------------------------------------------
    fail(message, entry, hint) {
        return new WheelError(message, this.path, hint ?? `download ${node_path.basename(this.path)} again; the file is damaged or is not a wheel`, entry?.name);
    }
    async readExactly(position, length, entry) {
        if (position + length > this.fileSize) {
            throw this.fail(entry
                ? `entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`
                : 'the file is truncated', entry);
        }
        const buf = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
            const { bytesRead } = await this.fh.read(buf, done, length - done, position + done);
            if (bytesRead === 0) {
                throw this.fail(entry
                    ? `entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`
                    : 'the file is truncated', entry);
            }
            done += bytesRead;
        }
        return buf;
    }
    /**
     * Offset of the entry's data, from its local header. `window` (starting at file offset
     * `windowStart`) is used when it holds the header; otherwise the header is read.
     */
    async dataStart(entry, window, windowStart) {
        const info = this.internal.get(entry);
        const off = entry.localHeaderOffset;
        let header;
        const rel = off - windowStart;
        if (window && rel >= 0 && rel + LOCAL_SIZE <= window.length)
            header = window.subarray(rel);
        else
            header = await this.readExactly(off, Math.min(LOCAL_SIZE + info.rawName.length, info.limit - off), entry);
        if (header.length < LOCAL_SIZE || header.readUInt32LE(0) !== SIG_LOCAL) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} has no local header where the directory says`, entry);
        }
        const nameLen = header.readUInt16LE(26);
        const extraLen = header.readUInt16LE(28);
        if (LOCAL_SIZE + nameLen > header.length) {
            header = await this.readExactly(off, LOCAL_SIZE + nameLen, entry);
        }
        if (!header.subarray(LOCAL_SIZE, LOCAL_SIZE + nameLen).equals(info.rawName)) {
            throw this.fail(`entry ${JSON.stringify(entry.name)}: the name in its local header differs from the central directory`, entry);
        }
        const start = off + LOCAL_SIZE + nameLen + extraLen;
        const end = start + entry.compressedSize;
        if (end > this.fileSize) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`, entry);
        }
        if (end > info.limit) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} overlaps the next entry or the central directory`, entry);
        }
        return start;
    }
    check(entry, size, crc) {
        if (size !== entry.size) {
            throw this.fail(`entry ${JSON.stringify(entry.name)} is corrupt: ${size} bytes instead of the ${entry.size} the directory records`, entry);
        }
        if (crc !== entry.crc32) {
            throw this.fail(`CRC mismatch in ${JSON.stringify(entry.name)} (${hex8(crc)}, the directory says ${hex8(entry.crc32)})`, entry);
        }
    }
    async decode(entry, raw) {
        let data;
        if (entry.method === METHOD_STORED) {
            data = raw;
        }
        else {
            // `info` hands back the engine too: its bytesWritten is the input it consumed. One output
            // buffer a little larger than the content: zlib's default (16 kB pieces, then a copy into
            // one buffer) allocates and copies every byte twice, and a last piece that fills its buffer
            // exactly makes it allocate another one.
            const opts = {
                maxOutputLength: Math.max(1, entry.size),
                chunkSize: entry.size + 64,
                info: true
            };
            try {
                const out = raw.length < INFLATE_SYNC_BELOW
                    ? zlib.inflateRawSync(raw, opts)
                    : await new Promise((resolve, reject) => zlib.inflateRaw(raw, opts, (err, out) => (err ? reject(err) : resolve(out))));
                data = out.buffer;
                this.exact.set(entry, out.engine.bytesWritten === raw.length);
            }
            catch (e) {
                throw this.inflateError(entry, e);
            }
        }
        this.check(entry, data.length, crc32(data));
        return data;
    }
    inflateError(entry, e) {
        if (e.code === 'ERR_BUFFER_TOO_LARGE' || e.name === 'RangeError') {
            return this.fail(`entry ${JSON.stringify(entry.name)} is corrupt: it inflates to more than the ${entry.size} bytes the directory records`, entry);
        }
        const msg = e.message;
        if (/unexpected end/i.test(msg)) {
            return this.fail(`entry ${JSON.stringify(entry.name)} is truncated (its deflate stream ends early)`, entry);
        }
        return this.fail(`entry ${JSON.stringify(entry.name)} is corrupt (deflate: ${msg})`, entry);
    }
    async extractWindow(group, start, end, handlers, keepFrom) {
        const window = await this.readExactly(start, Math.min(end, this.fileSize) - start);
        // allSettled: no handler is still writing when an error is reported.
        const results = await Promise.allSettled(group.map(async (entry) => {
            const dataStart = await this.dataStart(entry, window, start);
            const rel = dataStart - start;
            const raw = rel + entry.compressedSize <= window.length
                ? window.subarray(rel, rel + entry.compressedSize)
                : await this.readExactly(dataStart, entry.compressedSize, entry);
            const data = await this.decode(entry, raw);
            if (entry.size >= keepFrom && this.exactDeflate(entry))
                this.kept.set(entry, raw);
            await handlers.whole(entry, data);
        }));
        for (const r of results)
            if (r.status === 'rejected')
                throw r.reason;
    }
    async extractStream(entry, handlers) {
        const start = await this.dataStart(entry, null, 0);
        await handlers.stream(entry, this.checkedChunks(entry, start));
    }
    async *rawChunks(entry, start) {
        let pos = start;
        let left = entry.compressedSize;
        while (left > 0) {
            const n = Math.min(STREAM_CHUNK, left);
            yield await this.readExactly(pos, n, entry);
            pos += n;
            left -= n;
        }
    }
    async *inflatedChunks(entry, start) {
        const inflater = zlib.createInflateRaw({ chunkSize: 1024 * 1024 });
        const stop = new AbortController();
        const pump = (async () => {
            try {
                for await (const chunk of this.rawChunks(entry, start)) {
                    if (!inflater.write(chunk))
                        await node_events.once(inflater, 'drain', { signal: stop.signal });
                }
                inflater.end();
            }
            catch (e) {
                if (!stop.signal.aborted)
                    inflater.destroy(e);
            }
        })();
        try {
            for await (const out of inflater)
                yield out;
            this.exact.set(entry, inflater.bytesWritten === entry.compressedSize);
        }
        catch (e) {
            if (e instanceof WheelError)
                throw e;
            throw this.inflateError(entry, e);
        }
        finally {
            stop.abort();
            inflater.destroy();
            await pump;
        }
    }
    async *checkedChunks(entry, start) {
        const source = entry.method === METHOD_STORED ? this.rawChunks(entry, start) : this.inflatedChunks(entry, start);
        let size = 0;
        let crc = 0;
        for await (const chunk of source) {
            size += chunk.length;
            if (size > entry.size) {
                throw this.fail(`entry ${JSON.stringify(entry.name)} is corrupt: it inflates to more than the ${entry.size} bytes the directory records`, entry);
            }
            crc = crc32(chunk, crc);
            yield chunk;
        }
        this.check(entry, size, crc);
    }
}
function hex8(n) {
    return n.toString(16).padStart(8, '0');
}
async function runPool(jobs, concurrency) {
    let next = 0;
    let failure = null;
    const worker = async () => {
        while (failure === null && next < jobs.length) {
            const job = jobs[next++];
            try {
                await job();
            }
            catch (error) {
                failure ??= { error };
            }
        }
    };
    // Every worker stops before we return (nothing keeps writing after an error); the first error wins.
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
    if (failure !== null)
        throw failure.error;
}
// ---------------------------------------------------------------------------------------------
// Central directory
async function readAt(fh, position, length) {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0)
            break;
        done += bytesRead;
    }
    return buf.subarray(0, done);
}
function u64(buf, offset, what, fail) {
    const v = buf.readBigUInt64LE(offset);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
        throw fail(`${what} is too large (${v})`);
    return Number(v);
}
async function readCentralDirectory(fh, path, fileSize) {
    const damaged = `download ${node_path.basename(path)} again; the file is damaged or is not a wheel`;
    const fail = (message, entry) => new WheelError(message, path, damaged, entry);
    const notZip = (why) => new WheelError(`not a zip file (${why})`, path, `a wheel is a zip archive: download ${node_path.basename(path)} again; it is truncated or not a wheel`);
    if (fileSize < EOCD_SIZE)
        throw notZip(`${fileSize} bytes, too short for a zip`);
    const tailLen = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE);
    const tailStart = fileSize - tailLen;
    const tail = await readAt(fh, tailStart, tailLen);
    let eocd = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
        if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0)
        throw notZip('no end of central directory record; the file is truncated or not a zip');
    const eocdPos = tailStart + eocd;
    const disk = tail.readUInt16LE(eocd + 4);
    const cdDisk = tail.readUInt16LE(eocd + 6);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let cdEnd = eocdPos;
    let zip64 = false;
    if (eocd >= ZIP64_LOCATOR_SIZE && tail.readUInt32LE(eocd - ZIP64_LOCATOR_SIZE) === SIG_ZIP64_LOCATOR) {
        const loc = eocd - ZIP64_LOCATOR_SIZE;
        if (tail.readUInt32LE(loc + 4) !== 0 || tail.readUInt32LE(loc + 16) > 1) {
            throw notZip('a multi-disk (split) archive');
        }
        const recPos = u64(tail, loc + 8, 'the ZIP64 end record offset', fail);
        const rec = await readAt(fh, recPos, ZIP64_EOCD_SIZE);
        if (rec.length < ZIP64_EOCD_SIZE || rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) {
            throw notZip('the ZIP64 end of central directory record is missing');
        }
        if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0)
            throw notZip('a multi-disk (split) archive');
        count = u64(rec, 32, 'the ZIP64 entry count', fail);
        cdSize = u64(rec, 40, 'the ZIP64 central directory size', fail);
        cdOffset = u64(rec, 48, 'the ZIP64 central directory offset', fail);
        cdEnd = recPos;
        zip64 = true;
    }
    else if (disk !== 0 || cdDisk !== 0) {
        throw notZip('a multi-disk (split) archive');
    }
    if (cdOffset + cdSize !== cdEnd) {
        throw notZip(`the central directory (${cdSize} bytes at ${cdOffset}) does not end where the end record is (${cdEnd}); ` +
            'the file is truncated, or has data before the archive');
    }
    const cd = await readAt(fh, cdOffset, cdSize);
    if (cd.length !== cdSize)
        throw notZip('the central directory is truncated');
    const entries = [];
    const raw = [];
    const seen = new Set();
    let p = 0;
    while (p < cd.length) {
        if (p + CENTRAL_SIZE > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
            throw fail(`the central directory is corrupt at entry ${entries.length + 1}`);
        }
        const madeBy = cd.readUInt16LE(p + 4);
        const flags = cd.readUInt16LE(p + 8);
        const method = cd.readUInt16LE(p + 10);
        const crc = cd.readUInt32LE(p + 16);
        let compressedSize = cd.readUInt32LE(p + 20);
        let size = cd.readUInt32LE(p + 24);
        const nameLen = cd.readUInt16LE(p + 28);
        const extraLen = cd.readUInt16LE(p + 30);
        const commentLen = cd.readUInt16LE(p + 32);
        const external = cd.readUInt32LE(p + 38);
        let localHeaderOffset = cd.readUInt32LE(p + 42);
        const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
        if (end > cd.length)
            throw fail(`the central directory is corrupt at entry ${entries.length + 1}`);
        const rawName = Buffer.from(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
        let name;
        if (flags & FLAG_UTF8) {
            try {
                name = utf8.decode(rawName);
            }
            catch {
                throw fail(`entry name ${JSON.stringify(rawName.toString('latin1'))} is marked UTF-8 but is not valid UTF-8`);
            }
        }
        else {
            name = decodeCp437(rawName);
        }
        if (name.includes('\0'))
            throw fail(`entry name ${JSON.stringify(name)} contains a NUL byte`, name);
        // ZIP64 extended information: only the fields whose 32-bit value is 0xFFFFFFFF, in this order.
        const extra = cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen);
        let x = 0;
        while (x + 4 <= extra.length) {
            const tag = extra.readUInt16LE(x);
            const len = extra.readUInt16LE(x + 2);
            if (x + 4 + len > extra.length)
                throw fail(`entry ${JSON.stringify(name)} has a corrupt extra field`, name);
            if (tag === 0x0001) {
                const field = extra.subarray(x + 4, x + 4 + len);
                let q = 0;
                const take = (what) => {
                    if (q + 8 > field.length)
                        throw fail(`entry ${JSON.stringify(name)} has a corrupt ZIP64 extra field`, name);
                    const v = u64(field, q, `entry ${JSON.stringify(name)}: ${what}`, fail);
                    q += 8;
                    return v;
                };
                if (size === 0xffffffff)
                    size = take('size');
                if (compressedSize === 0xffffffff)
                    compressedSize = take('compressed size');
                if (localHeaderOffset === 0xffffffff)
                    localHeaderOffset = take('offset');
            }
            x += 4 + len;
        }
        if (flags & FLAG_ENCRYPTED) {
            throw new WheelError(`entry ${JSON.stringify(name)} is encrypted`, path, 'wheels cannot be encrypted; rebuild the wheel', name);
        }
        if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
            throw new WheelError(`entry ${JSON.stringify(name)} uses compression method ${method}; only stored (0) and deflate (8) are supported`, path, 'rebuild the wheel with deflate compression (what the wheel spec asks for)', name);
        }
        if (seen.has(name)) {
            throw new WheelError(`entry ${JSON.stringify(name)} appears twice in the archive`, path, 'rebuild the wheel; a wheel lists each file once', name);
        }
        seen.add(name);
        const creatorSystem = madeBy >>> 8;
        entries.push({
            name,
            isDirectory: name.endsWith('/'),
            method,
            flags,
            crc32: crc,
            compressedSize,
            size,
            localHeaderOffset,
            creatorSystem,
            externalAttributes: external,
            unixMode: creatorSystem === SYSTEM_UNIX ? external >>> 16 : null
        });
        raw.push({ rawName, cdExtraLength: extraLen });
        p = end;
    }
    if (entries.length !== count && !(!zip64 && count === entries.length % 0x10000)) {
        throw fail(`the end record says ${count} entries, the central directory has ${entries.length}`);
    }
    // Each entry's data must end before the next local header (or the central directory).
    const order = entries
        .map((_, i) => i)
        .sort((a, b) => entries[a].localHeaderOffset - entries[b].localHeaderOffset);
    const internal = new Map();
    for (let k = 0; k < order.length; k++) {
        const i = order[k];
        const e = entries[i];
        const next = k + 1 < order.length ? entries[order[k + 1]].localHeaderOffset : cdOffset;
        if (e.localHeaderOffset + LOCAL_SIZE > cdOffset) {
            throw fail(`entry ${JSON.stringify(e.name)} starts past the end of the archive data`, e.name);
        }
        if (next === e.localHeaderOffset) {
            throw fail(`entries ${JSON.stringify(e.name)} and another share one local header`, e.name);
        }
        internal.set(e, { ...raw[i], limit: next });
    }
    return { entries, internal };
}

// How the bytes of a wheel's entries are read for an install that writes nothing to disk: the few
// entries whose installed bytes or hash must be known up front are read whole at once; small
// entries are inflated a window of neighbours at a time when the first of them is wanted; large
// ones stream in chunks, hashed as they pass.
/** Entries at least this big are streamed; smaller ones are read in windows. */
const STREAM_BYTES = 1024 * 1024;
/** Never stream: what is read here is wanted whole. */
const WHOLE = { streamThreshold: Number.MAX_SAFE_INTEGER };
/** These entries' bytes, read now (inflated and checked against their size and CRC-32). */
async function readWhole(zip, entries, extract = {}) {
    const out = new Map();
    await zip.extract(entries, {
        whole: (entry, data) => {
            out.set(entry.name, data);
        },
        stream: async (entry, chunks) => {
            const parts = [];
            for await (const c of chunks)
                parts.push(c);
            out.set(entry.name, Buffer.concat(parts));
        }
    }, { ...extract, ...WHOLE });
    return out;
}
/** Compressed bytes of small entries inflated per batch (a few windows, read in parallel). */
const BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Small entries read on demand, in batches in the zip's order: a `take` inflates batches until
 * its entry is there, and the next batch is read while the current one is used. Each entry is
 * handed out once, then forgotten. Layers take entries in path order, which is about the order
 * wheel builders write them in, so only a batch or two are in memory at a time (not every small
 * file of torch at once); taken out of order, the batches in between wait in memory.
 */
class LazyEntries {
    zip;
    extract;
    batchBytes;
    data = new Map();
    /** Not inflated yet, in the zip's order. */
    queue;
    next = 0;
    loading = null;
    /** A batch that failed (a damaged entry): every later `take` fails with it. */
    failed = null;
    constructor(zip, 
    /** Every entry that will be taken: fixed before the first `take`. */
    entries, extract = {}, 
    /** Compressed bytes per batch (the tests make it small). */
    batchBytes = BATCH_BYTES) {
        this.zip = zip;
        this.extract = extract;
        this.batchBytes = batchBytes;
        this.queue = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
    }
    async take(entry) {
        while (!this.failed && !this.data.has(entry.name) && (this.loading || this.next < this.queue.length))
            await (this.loading ??= this.loadBatch());
        if (this.failed)
            throw this.failed;
        const data = this.data.get(entry.name);
        if (!data)
            throw new WheelError(`${entry.name} was read twice`, this.zip.path, 'report this as a fast-build bug', entry.name);
        this.data.delete(entry.name);
        // One batch ahead: inflating on the thread pool while this one is hashed and written.
        if (!this.loading && !this.failed && this.next < this.queue.length)
            this.loading = this.loadBatch();
        return data;
    }
    async loadBatch() {
        const batch = [];
        for (let bytes = 0; this.next < this.queue.length && (batch.length === 0 || bytes < this.batchBytes);) {
            const e = this.queue[this.next++];
            batch.push(e);
            bytes += e.compressedSize;
        }
        try {
            await this.zip.extract(batch, {
                whole: (entry, data) => {
                    this.data.set(entry.name, data);
                },
                stream: () => Promise.reject(new Error('unreachable: small entries are read whole'))
            }, { ...this.extract, ...WHOLE });
        }
        catch (e) {
            this.failed ??= e;
        }
        finally {
            this.loading = null;
        }
    }
}
/**
 * A large entry written through `out` chunk by chunk; `done` gets its sha256 once every chunk has
 * passed (and throws to fail the write, e.g. on a RECORD mismatch).
 */
function streamEntry(zip, entry, done) {
    return async (out) => {
        const h = node_crypto.createHash('sha256');
        await zip.extract([entry], {
            whole: async (_e, data) => {
                h.update(data);
                await out(data);
            },
            stream: async (_e, chunks) => {
                for await (const c of chunks) {
                    h.update(c);
                    await out(c);
                }
            }
        }, { streamThreshold: 0 });
        done(h.digest());
    };
}

// Where a wheel's parts go inside the image: pip's install scheme (purelib, platlib, scripts, data,
// headers) plus the interpreter that scripts name in their `#!` line.
/** Refuses a layout whose paths are not normalized absolute paths (they become tar entry paths). */
function checkLayout(layout) {
    for (const key of ['purelib', 'platlib', 'scripts', 'data', 'headers', 'interpreter']) {
        const v = layout[key];
        const ok = typeof v === 'string' &&
            v.startsWith('/') &&
            !/[\0\n]/.test(v) &&
            (key === 'interpreter' || (node_path.posix.normalize(v) === v && (v === '/' || !v.endsWith('/'))));
        if (!ok) {
            throw new ConfigError(`python layout: ${key} must be a normalized absolute path inside the image, not ${JSON.stringify(v)}`, {}, `give ${key} as an absolute path such as /usr/local/lib/python3.12/site-packages`);
        }
    }
}
/** `rel` inside the absolute directory `dir` (which may be `/`). */
function under$2(dir, rel) {
    return dir === '/' ? `/${rel}` : `${dir}/${rel}`;
}

// Scripts as pip installs them: wrappers for console_scripts and gui_scripts with the bytes pip
// writes (distlib's ScriptMaker as pip configures it: shebang rules incl. the /bin/sh trampoline
// for long paths or spaces, the template, pip/easy_install versioned names for the target Python),
// and `.data/scripts` files whose first line starts with `#!python` rewritten to name the target
// interpreter. The shebang is the interpreter of the layout, not the Python running the installer.
const TEMPLATES = {
    'pip-23': "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
    'pip-24.3': "# -*- coding: utf-8 -*-\nimport re\nimport sys\nif __name__ == '__main__':\n    from %(module)s import %(import_name)s\n" +
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
    'pip-26': "import sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(%(func)s())\n"
};
const W = '[\\p{L}\\p{N}_]';
// distlib.util.ENTRY_RE, used with search() (not anchored).
const ENTRY_RE = new RegExp(`(?<name>(?:${W}|[-.+])+)\\s*=\\s*(?<callable>${W}+(?:[:.]${W}+)*)` +
    `\\s*(?:\\[\\s*(?<flags>[\\p{L}\\p{N}_-]+(?:=${W}+)?(?:,\\s*${W}+(?:=${W}+)?)*)\\s*\\])?`, 'u');
/** distlib's `get_export_entry`: null when the text has no `name = callable`; throws when invalid. */
function parseExportEntry(spec) {
    const m = ENTRY_RE.exec(spec);
    const brackets = spec.includes('[') || spec.includes(']');
    if (!m)
        return brackets ? 'invalid' : null;
    const { name, callable, flags } = m.groups;
    const colons = callable.split(':').length - 1;
    if (colons > 1)
        return 'invalid';
    const [prefix, suffix] = colons === 0 ? [callable, null] : callable.split(':');
    if (flags === undefined && brackets)
        return 'invalid';
    return { name, prefix, suffix, flags: flags === undefined ? [] : flags.split(',').map((f) => f.trim()) };
}
/** distlib's shebang for an interpreter path: `#!path\n`, or the /bin/sh trampoline when it has spaces or is long. */
function scriptShebang(interpreter) {
    let exe = interpreter;
    if (exe.includes(' ')) {
        if (exe.startsWith('/usr/bin/env ')) {
            const rest = exe.slice('/usr/bin/env '.length);
            if (rest.includes(' ') && !rest.startsWith('"'))
                exe = `/usr/bin/env "${rest}"`;
        }
        else if (!exe.startsWith('"'))
            exe = `"${exe}"`;
    }
    const length = Buffer.byteLength(exe, 'utf8') + 3;
    if (!exe.includes(' ') && length <= 127)
        return `#!${exe}\n`;
    return `#!/bin/sh\n'''exec' ${exe} "$0" "$@"\n' '''\n`;
}
/** The bytes of the wrapper script pip writes for an entry point. */
function entryPointScript(entry, interpreter, flavour = 'pip-23') {
    const suffix = entry.suffix ?? '';
    const text = TEMPLATES[flavour]
        .replace('%(module)s', entry.prefix)
        .replace('%(import_name)s', suffix.split('.')[0])
        .replace('%(func)s', suffix);
    return Buffer.from(scriptShebang(interpreter) + text, 'utf8');
}
/** pip's `get_console_script_specs`: pip and easy_install get versioned names for the target Python. */
function consoleScriptSpecs(console, python) {
    const c = new Map(console);
    const specs = [];
    const pip = c.get('pip');
    c.delete('pip');
    if (pip) {
        specs.push(`pip = ${pip}`, `pip${python.major} = ${pip}`, `pip${python.major}.${python.minor} = ${pip}`);
        for (const k of [...c.keys()])
            if (/^pip(\d+(\.\d+)?)?$/.test(k))
                c.delete(k);
    }
    const easy = c.get('easy_install');
    c.delete('easy_install');
    if (easy) {
        specs.push(`easy_install = ${easy}`, `easy_install-${python.major}.${python.minor} = ${easy}`);
        for (const k of [...c.keys()])
            if (/^easy_install(-\d+\.\d+)?$/.test(k))
                c.delete(k);
    }
    for (const [k, v] of c)
        specs.push(`${k} = ${v}`);
    return specs;
}
/** pip's `fix_script`: a first line starting with `#!python` becomes `#!<interpreter>\n`. */
function fixScriptShebang(content, interpreter) {
    if (!content.subarray(0, 8).equals(Buffer.from('#!python')))
        return content;
    const nl = content.indexOf(0x0a);
    const rest = nl < 0 ? Buffer.alloc(0) : content.subarray(nl + 1);
    return Buffer.concat([Buffer.from(`#!${interpreter}\n`, 'utf8'), rest]);
}
/**
 * pip's `is_entrypoint_wrapper`: a `.data/scripts` file named like an entry point (`X`, `X.exe`,
 * `X-script.py`, `X.pya`) is a wrapper setuptools generated, left out since pip writes its own.
 */
function isEntryPointWrapper(dest, names) {
    const base = node_path.posix.basename(dest);
    const lower = base.toLowerCase();
    const match = lower.endsWith('.exe')
        ? base.slice(0, -4)
        : lower.endsWith('-script.py')
            ? base.slice(0, -10)
            : lower.endsWith('.pya')
                ? base.slice(0, -4)
                : base;
    return names.has(match);
}

// Where pip installs each file of a wheel, and what it generates (pure): Root-Is-Purelib picks
// purelib or platlib for the wheel's top level; `<x>.data/<key>/...` go to the scheme paths
// (purelib, platlib, scripts, data, headers), headers under `<headers>/<project>`; `.data/scripts`
// files get their `#!python` line fixed, except those named like an entry point (left out);
// console_scripts and gui_scripts become wrappers; then INSTALLER, REQUESTED and RECORD.
//
// A file is executable when the zip records a regular-file mode with any x bit (pip's
// `zip_item_is_executable`); data scripts keep the zip's mode (pip adds no x bit, though the spec
// lets installers); generated wrappers are executable; INSTALLER, REQUESTED and RECORD are not.
//
// Entry names are checked more strictly than pip does: backslashes, absolute paths, NUL and
// anything that normalizes outside its install directory are refused (pip compares string
// prefixes only). No `direct_url.json` (an image installs from an index, not a local file).
const SCHEME_KEYS = ['data', 'headers', 'platlib', 'purelib', 'scripts'];
/**
 * The directory under `<headers>` that pip names after the requirement: the wheel file name's
 * project part with `_` turned into `-` (pip 23-24), or the normalized name (pip 26).
 */
function headersName(filename, name, pip) {
    return pip === 'pip-26' ? name : filename.split('-', 1)[0].replace(/_/g, '-');
}
/** Where pip installs each file of the wheel, and what it generates. Throws WheelError. */
function planInstall(input) {
    const libDir = input.rootIsPurelib ? input.layout.purelib : input.layout.platlib;
    const distInfo = under$2(libDir, input.infoDir);
    const planned = (dest, executable, source) => ({
        dest,
        recordPath: node_path.posix.relative(libDir, dest),
        executable,
        source
    });
    const scripts = scriptEntryPoints(input.entryPoints);
    // pip's order: root files, other .data files, .data/scripts; then generated wrappers, INSTALLER,
    // REQUESTED, RECORD. A later file for the same destination replaces an earlier one.
    const files = lastWins([
        ...wheelFiles(input, libDir, scripts, planned),
        ...wrapperFiles(input, scripts, planned),
        ...metadataFiles(input, distInfo, planned)
    ]);
    checkPaths(files, input.wheel);
    return { libDir, distInfo, files };
}
function scriptEntryPoints(entryPoints) {
    const console = new Map();
    const gui = new Map();
    for (const ep of entryPoints) {
        if (ep.group === 'console_scripts')
            console.set(ep.name, ep.value);
        else if (ep.group === 'gui_scripts')
            gui.set(ep.name, ep.value);
    }
    return { console, gui, names: new Set([...console.keys(), ...gui.keys()]) };
}
/** The wheel's own files in pip's order: root files, other `.data` files, `.data/scripts`. */
function wheelFiles(input, libDir, scripts, planned) {
    const groups = { root: [], data: [], scripts: [] };
    for (const e of input.entries) {
        if (e.isDirectory)
            continue;
        const segs = entrySegments(e.name, input.wheel);
        if (!e.name.split('/', 1)[0].endsWith('.data')) {
            const source = { kind: 'entry', entry: e.name, fixShebang: false };
            groups.root.push(planned(under$2(libDir, segs.join('/')), e.executable, source));
            continue;
        }
        const dest = dataDestination(e.name, segs, input);
        const raw = e.name.split('/');
        if (raw.length <= 2 || raw[1] !== 'scripts') {
            groups.data.push(planned(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: false }));
        }
        else if (!isEntryPointWrapper(dest, scripts.names)) {
            groups.scripts.push(planned(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: true }));
        }
    }
    return [...groups.root, ...groups.data, ...groups.scripts];
}
/** Where `<x>.data/<scheme key>/<path>` goes. */
function dataDestination(name, segs, input) {
    const fix = 'rebuild the wheel; only purelib/, platlib/, scripts/, data/ and headers/ may be under .data';
    if (segs.length < 3) {
        throw new WheelError(`unexpected file ${JSON.stringify(name)} in the .data directory (contents must be named <scheme key>/<path>)`, input.wheel, fix, name);
    }
    const key = segs[1];
    if (!SCHEME_KEYS.includes(key)) {
        throw new WheelError(`unknown scheme key ${JSON.stringify(key)} in ${JSON.stringify(name)} (valid: ${SCHEME_KEYS.join(', ')})`, input.wheel, fix, name);
    }
    const { layout } = input;
    const schemePaths = {
        data: layout.data,
        headers: under$2(layout.headers, input.headersName),
        platlib: layout.platlib,
        purelib: layout.purelib,
        scripts: layout.scripts
    };
    return under$2(schemePaths[key], segs.slice(2).join('/'));
}
/**
 * An entry name as `/`-separated segments after `os.path.normpath`; refuses names that are
 * absolute, use backslashes or NUL, or climb out of the directory they are installed into.
 */
function entrySegments(name, wheel) {
    const refuse = (why) => new WheelError(`entry ${JSON.stringify(name)} ${why}`, wheel, 'do not install this wheel: it was built wrongly or tampered with; rebuild it or get it from the project again', name);
    if (name.includes('\\'))
        throw refuse('uses a backslash; wheel paths are /-separated and relative');
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name))
        throw refuse('is an absolute path');
    if (name.includes('\0'))
        throw refuse('contains a NUL character');
    const out = [];
    for (const seg of name.split('/')) {
        if (seg === '' || seg === '.')
            continue;
        if (seg === '..') {
            if (out.length === 0)
                throw refuse('would be installed outside its install directory (`..`)');
            out.pop();
        }
        else
            out.push(seg);
    }
    if (out.length === 0)
        throw refuse('has no file name');
    return out;
}
/** The wrappers pip writes for console_scripts (with versioned pip/easy_install) and gui_scripts. */
function wrapperFiles(input, scripts, planned) {
    const { layout, wheel, infoDir } = input;
    const specs = [
        ...consoleScriptSpecs(scripts.console, layout.python),
        ...[...scripts.gui].map(([k, v]) => `${k} = ${v}`)
    ];
    return specs.map((spec) => {
        const entry = parseExportEntry(spec);
        const bad = (why) => new WheelError(`invalid script entry point ${JSON.stringify(spec)} in ${infoDir}/entry_points.txt: ${why}`, wheel, 'fix [project.scripts] / [project.gui-scripts] (or console_scripts) in the project and rebuild the wheel', `${infoDir}/entry_points.txt`);
        if (entry === null || entry === 'invalid')
            throw bad('not of the form `name = module:callable`');
        if (entry.suffix === null)
            throw bad('a callable suffix is required (module:function)');
        if (entry.name === '.' || entry.name === '..')
            throw bad('the script would be installed outside the scripts directory');
        const content = entryPointScript(entry, layout.interpreter, input.pip);
        return planned(under$2(layout.scripts, entry.name), true, { kind: 'generated', content });
    });
}
/** INSTALLER, REQUESTED (only when asked for directly, as pip writes it) and RECORD, last. */
function metadataFiles(input, distInfo, planned) {
    const installer = Buffer.from(`${input.installer}\n`);
    return [
        planned(under$2(distInfo, 'INSTALLER'), false, { kind: 'generated', content: installer }),
        ...(input.requested
            ? [planned(under$2(distInfo, 'REQUESTED'), false, { kind: 'generated', content: Buffer.alloc(0) })]
            : []),
        planned(under$2(distInfo, 'RECORD'), false, { kind: 'record' })
    ];
}
/** One file per destination: the last in the list wins, at its own position. */
function lastWins(files) {
    const winners = new Map();
    for (const f of files) {
        winners.delete(f.dest);
        winners.set(f.dest, f);
    }
    return [...winners.values()];
}
/** Every destination is a valid layer path, and no path is both a file and a directory. */
function checkPaths(files, wheel) {
    const byDest = new Map(files.map((f) => [f.dest, f]));
    for (const f of files)
        checkEntryPath(f.dest.slice(1));
    for (const f of files) {
        for (let d = node_path.posix.dirname(f.dest); d !== '/' && d !== '.'; d = node_path.posix.dirname(d)) {
            const clash = byDest.get(d);
            if (clash) {
                const name = (p) => p.source.kind === 'entry' ? JSON.stringify(p.source.entry) : `generated ${p.dest}`;
                throw new WheelError(`${name(clash)} installs a file at ${d}, where ${name(f)} needs a directory`, wheel, 'rebuild the wheel so no file has the same path as a directory', clash.source.kind === 'entry' ? clash.source.entry : undefined);
            }
        }
    }
}

// Python's `str` rules that the text files of a wheel are read by (pip and importlib.metadata run
// `str.strip()` and `str.splitlines()` on them), so our readers split and trim exactly as they do.
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'g');
/** Python's `str.splitlines()` line boundaries (which include the file/group/record separators). */
// eslint-disable-next-line no-control-regex
const PY_LINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
/** Python's `str.strip()` (Unicode whitespace, not only ASCII). */
function pyStrip(s) {
    return s.replace(PY_STRIP, '');
}

// RECORD, the list of a wheel's files with their hashes and sizes (the binary distribution format
// and "Recording installed projects"): read from the wheel to check every file installed, written
// anew for the installed files as pip writes it (Python's csv writer, rows sorted, CRLF).
//
// Where we differ from pip 23-26, on purpose: the wheel's RECORD hashes are verified for every file
// installed (pip does not check them); a mismatch, a weak (md5/sha1) or unknown algorithm is an
// error. Files the RECORD does not list are accepted, as pip accepts them, but get a hash in the
// new RECORD (pip leaves it empty). The new RECORD lists exactly the installed files; pip also keeps
// rows of the old RECORD for files it did not install (left-out wrappers).
/** One CSV line as Python's csv reader (default dialect) splits it. */
function parseCsvLine(line) {
    const fields = [];
    let field = '';
    let inQuotes = false;
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (inQuotes) {
            if (c === '"') {
                if (line[i + 1] === '"') {
                    field += '"';
                    i++;
                }
                else
                    inQuotes = false;
            }
            else
                field += c;
        }
        else if (c === ',') {
            fields.push(field);
            field = '';
            quoted = false;
        }
        else if (c === '"' && field === '' && !quoted) {
            inQuotes = true;
            quoted = true;
        }
        else
            field += c;
    }
    fields.push(field);
    return fields;
}
/** A RECORD file: CSV rows `path,hash,size` (hash and size may be empty). */
function parseRecord(text) {
    const rows = [];
    for (const line of text.split(PY_LINES)) {
        if (line === '')
            continue;
        const f = parseCsvLine(line);
        rows.push({ path: f[0] ?? '', hash: f[1] ?? '', size: f[2] ?? '' });
    }
    return rows;
}
function csvField(s) {
    return /[,"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
function compareUtf8(a, b) {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
/** RECORD text as pip writes it: rows sorted by (path, hash, size), Python csv quoting, CRLF. */
function formatRecord(rows) {
    const sorted = [...rows].sort((a, b) => compareUtf8(a.path, b.path) || compareUtf8(a.hash, b.hash) || compareUtf8(a.size, b.size));
    return sorted.map((r) => `${csvField(r.path)},${csvField(r.hash)},${csvField(r.size)}\r\n`).join('');
}
/** `sha256=<urlsafe base64 without padding>` (the RECORD hash format). */
function recordHash(digest, algorithm = 'sha256') {
    return `${algorithm}=${digest.toString('base64url')}`;
}
// hashlib names in RECORD \u2192 node's names. md5 and sha1 are refused by the spec.
const RECORD_ALGORITHMS = {
    sha224: 'sha224',
    sha256: 'sha256',
    sha384: 'sha384',
    sha512: 'sha512',
    sha3_224: 'sha3-224',
    sha3_256: 'sha3-256',
    sha3_384: 'sha3-384',
    sha3_512: 'sha3-512',
    blake2b: 'blake2b512',
    blake2s: 'blake2s256'
};
function expectedHash(row, wheel, recordPath) {
    if (row.hash === '')
        return null;
    const eq = row.hash.indexOf('=');
    const algorithm = eq < 0 ? row.hash : row.hash.slice(0, eq);
    const nodeAlgorithm = RECORD_ALGORITHMS[algorithm];
    if (eq < 0 || nodeAlgorithm === undefined) {
        const weak = algorithm === 'md5' || algorithm === 'sha1';
        throw new WheelError(`${recordPath} lists ${JSON.stringify(row.path)} with ${weak
            ? `a ${algorithm} hash, which the wheel spec forbids`
            : `an unsupported hash ${JSON.stringify(row.hash)}`}`, wheel, 'rebuild the wheel with a current build backend (it writes sha256 hashes)', row.path);
    }
    return { algorithm, nodeAlgorithm, value: row.hash.slice(eq + 1).replace(/=+$/, '') };
}
/** The wheel's own RECORD: what each entry must hash to, and the check of what it did hash to. */
class WheelRecord {
    wheel;
    recordPath;
    rows;
    constructor(text, 
    /** The wheel, for error messages. */
    wheel, 
    /** The RECORD's name inside the wheel. */
    recordPath) {
        this.wheel = wheel;
        this.recordPath = recordPath;
        this.rows = new Map(parseRecord(text).map((r) => [r.path, r]));
    }
    /** The hash RECORD gives the entry; null when it lists none. Throws on a weak or unknown algorithm. */
    expected(entry) {
        const row = this.rows.get(entry);
        return row ? expectedHash(row, this.wheel, this.recordPath) : null;
    }
    /** Throws when `actual` (a digest with `exp`'s algorithm) is not what RECORD says. */
    verify(entry, exp, actual) {
        if (exp && actual.toString('base64url') !== exp.value) {
            throw new WheelError(`${entry} does not match its hash in RECORD (${exp.algorithm}=${exp.value}, the file has ${exp.algorithm}=${actual.toString('base64url')})`, this.wheel, `the wheel's content was changed after it was built: download it again, or rebuild it`, entry);
        }
    }
}

// The metadata a wheel carries in its `.dist-info` directory, read as pip reads it: the one
// `<name>-<version>.dist-info` directory, `WHEEL` (Wheel-Version, Root-Is-Purelib) and
// `entry_points.txt` (console and GUI scripts). Wheel-Version must be 1.x (pip also takes 0.x and
// warns above 1.0).
/**
 * The first value of an RFC 822 style header, as Python's email parser (compat32) returns it:
 * leading blanks dropped, continuation lines kept, trailing line ends dropped. Null when absent.
 */
function headerValue(text, name) {
    const lines = (text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? []);
    const want = name.toLowerCase();
    let found = null;
    let current = null;
    for (const line of lines) {
        if (/^[ \t]/.test(line) && line.trim() !== '') {
            if (current !== null)
                current += line;
            continue;
        }
        if (current !== null)
            break;
        if (line === '\n' || line === '\r\n' || line === '\r')
            break;
        const m = /^([\x21-\x39\x3b-\x7e]+):(.*)$/s.exec(line);
        if (!m)
            break;
        if (m[1].toLowerCase() === want)
            current = m[2].replace(/^[ \t]+/, '');
    }
    if (current !== null)
        found = current.replace(/[\r\n]+$/, '');
    return found;
}
/** The `.dist-info/WHEEL` file: Wheel-Version (major 1 only) and Root-Is-Purelib. */
function parseWheelInfo(text, wheel, path) {
    const versionText = headerValue(text, 'Wheel-Version');
    if (versionText === null) {
        throw new WheelError(`${path} has no Wheel-Version`, wheel, 'rebuild the wheel with a current build backend', path);
    }
    const parts = pyStrip(versionText).split('.');
    if (!parts.every((p) => /^[0-9]+(_[0-9]+)*$/.test(pyStrip(p)))) {
        throw new WheelError(`${path}: invalid Wheel-Version ${JSON.stringify(versionText)}`, wheel, 'rebuild the wheel with a current build backend', path);
    }
    const wheelVersion = parts.map((p) => Number(pyStrip(p).replace(/_/g, '')));
    if (wheelVersion[0] !== 1) {
        throw new WheelError(`Wheel-Version ${pyStrip(versionText)} in ${path} is not supported (only 1.x)`, wheel, 'use a wheel built for Wheel-Version 1 (what pip and every current build backend write)', path);
    }
    return {
        wheelVersion,
        rootIsPurelib: (headerValue(text, 'Root-Is-Purelib') ?? '').toLowerCase() === 'true'
    };
}
/** `entry_points.txt` as importlib.metadata reads it (sections, `name = value`, `#` comments). */
function parseEntryPoints(text, wheel = '', path = 'entry_points.txt') {
    const out = [];
    let group = null;
    const lines = text.split(PY_LINES);
    for (let i = 0; i < lines.length; i++) {
        const line = pyStrip(lines[i]);
        if (line === '' || line.startsWith('#'))
            continue;
        if (line.startsWith('[') && line.endsWith(']')) {
            group = line.replace(/^\[+|\]+$/g, '');
            continue;
        }
        if (group === null)
            continue;
        const eq = line.indexOf('=');
        if (eq < 0) {
            throw new WheelError(`${path} line ${i + 1} has no "=": ${JSON.stringify(line)}`, wheel, 'fix the entry points in the project and rebuild the wheel', path);
        }
        out.push({ group, name: pyStrip(line.slice(0, eq)), value: pyStrip(line.slice(eq + 1)) });
    }
    return out;
}
/** A text file of the wheel, which must exist and be UTF-8. */
async function readText(zip, path, wheel) {
    const entry = zip.entry(path);
    if (!entry) {
        throw new WheelError(`${path} is missing`, wheel, 'rebuild the wheel with a current build backend; every wheel has WHEEL and RECORD in its .dist-info', path);
    }
    const data = await zip.read(entry);
    try {
        return new TextDecoder('utf-8', { fatal: true }).decode(data);
    }
    catch {
        throw new WheelError(`${path} is not valid UTF-8`, wheel, 'rebuild the wheel', path);
    }
}
/** The one `.dist-info` directory, which must belong to the project the file name names. */
function findDistInfo(names, name, wheel) {
    const dirs = [...new Set(names.map((n) => n.split('/', 1)[0]))].filter((d) => d.endsWith('.dist-info'));
    if (dirs.length !== 1) {
        throw new WheelError(dirs.length === 0
            ? 'no .dist-info directory'
            : `several .dist-info directories: ${dirs.sort().join(', ')}`, wheel, 'a wheel has exactly one <name>-<version>.dist-info directory; rebuild it', dirs[0]);
    }
    const dir = dirs[0];
    if (!normalizeName(dir).startsWith(name)) {
        throw new WheelError(`the .dist-info directory ${JSON.stringify(dir)} does not belong to ${name}`, wheel, 'check that the file name matches the project in the wheel', dir);
    }
    return dir;
}

// A wheel opened for installing: its name from the file name, its entries, its `.dist-info`
// metadata and its RECORD, read once; the zip stays open for the content until `close()`.
/** The wheel's name and version from its file name (`filename`, else the path's last part). */
function wheelName$1(wheelPath, filename = node_path.basename(wheelPath)) {
    const parsed = parseWheelFilename(filename);
    if (!parsed) {
        throw new WheelError(`${JSON.stringify(filename)} is not a wheel file name (name-version[-build]-python-abi-platform.whl)`, wheelPath, 'keep the file name the index gives the wheel, or pass the original name as `filename`');
    }
    return { filename, name: parsed.distribution, version: parsed.version };
}
/** Open the wheel and read its metadata; the zip is closed again when that fails. */
async function openWheel(wheelPath, name) {
    const zip = await ZipReader.open(wheelPath);
    let closing = null;
    const close = () => (closing ??= zip.close());
    try {
        const infoDir = findDistInfo(zip.entries.map((e) => e.name), name.name, wheelPath);
        const wheelFile = `${infoDir}/WHEEL`;
        const info = parseWheelInfo(await readText(zip, wheelFile, wheelPath), wheelPath, wheelFile);
        const recordFile = `${infoDir}/RECORD`;
        const record = new WheelRecord(await readText(zip, recordFile, wheelPath), wheelPath, recordFile);
        const epFile = `${infoDir}/entry_points.txt`;
        const entryPoints = zip.entry(epFile)
            ? parseEntryPoints(await readText(zip, epFile, wheelPath), wheelPath, epFile)
            : [];
        const { rootIsPurelib } = info;
        return { ...name, path: wheelPath, zip, infoDir, rootIsPurelib, entryPoints, record, close };
    }
    catch (e) {
        await close();
        throw e;
    }
}
/** pip's `zip_item_is_executable`: a regular-file mode with any x bit. */
function zipExecutable(e) {
    const mode = e.externalAttributes >>> 16;
    return mode !== 0 && (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0;
}

// Install a wheel the way pip installs it into a Python environment (the binary distribution
// format spec, PEP 427, and "Recording installed projects"), into a destination: an image layer in
// production, a directory in the tests that compare the result with pip's, file by file.
//
// pip's `_internal/operations/install/wheel.py` is the reference: the differential test installs
// the same wheels with pip 23.2.1, and pip 26.2.1 when the mirror has it, and compares the trees
// byte for byte. Where files go is plan.ts; wrapper scripts and `#!python` lines are scripts.ts;
// RECORD (checked on the way in, written on the way out) is records.ts.
//
// Also unlike pip: every entry's CRC-32 and size are checked too (zip.ts); no byte-compilation
// (like `pip --no-compile`); the ENSUREPIP_OPTIONS variable pip reads is ignored (output must not
// depend on the environment).
/**
 * Install the wheel into `destination` and return what it makes of it. Everything that can be
 * refused (names, paths, metadata, weak hashes) is refused before the first file is handed over; a
 * RECORD mismatch fails when that file's content is read. Installs share nothing: several wheels
 * may be installed at once.
 */
async function install(wheelPath, destination, opts = {}) {
    const name = wheelName$1(wheelPath, opts.filename);
    const { layout } = destination;
    checkLayout(layout);
    const wheel = await openWheel(wheelPath, name);
    try {
        const plan = planWheel(wheel, layout, opts);
        const files = await resolveFiles(wheel, plan, layout.interpreter, opts.extract);
        for (const f of files)
            await destination.writeFile(f.file);
        await destination.writeFile(recordFile(plan, files));
        const distInfo = plan.distInfo.slice(1);
        return await destination.finalize({
            name: name.name,
            version: name.version,
            distInfo,
            close: wheel.close
        });
    }
    catch (e) {
        await wheel.close();
        throw e;
    }
}
function planWheel(wheel, layout, opts) {
    const pip = opts.pip ?? 'pip-23';
    return planInstall({
        wheel: wheel.path,
        entries: wheel.zip.entries.map((e) => ({
            name: e.name,
            isDirectory: e.isDirectory,
            executable: zipExecutable(e)
        })),
        infoDir: wheel.infoDir,
        rootIsPurelib: wheel.rootIsPurelib,
        layout,
        headersName: headersName(wheel.filename, wheel.name, pip),
        entryPoints: wheel.entryPoints,
        pip,
        installer: opts.installer ?? 'fast-build',
        requested: opts.requested ?? false
    });
}
/** Every file but RECORD, with its RECORD row: in plan order. */
async function resolveFiles(wheel, plan, interpreter, extract) {
    const planned = plan.files.filter((f) => f.source.kind !== 'record');
    const contents = planned.map((f) => contentOf(wheel, f));
    const entries = (keep) => contents.flatMap((c) => (c.kind !== 'bytes' && keep(c) ? [c.entry] : []));
    const now = await readWhole(wheel.zip, entries((c) => c.kind === 'now'), extract);
    const smallEntries = entries((c) => c.kind === 'verbatim' && c.entry.size < STREAM_BYTES);
    // The deflate data of what a gzip layer may carry is kept as it is read (see oci/layer.ts).
    const small = new LazyEntries(wheel.zip, smallEntries, { keepDeflatedFrom: CARRY_MIN_BYTES, ...extract });
    return planned.map((f, i) => {
        const c = contents[i];
        if (c.kind === 'bytes')
            return bytesFile(f, c.bytes);
        if (c.kind === 'now')
            return wholeFile(wheel, f, c, now.get(c.entry.name), interpreter);
        return verbatimFile(wheel, f, c.entry, c.exp, small);
    });
}
function contentOf(wheel, f) {
    const src = f.source;
    if (src.kind === 'generated')
        return { kind: 'bytes', bytes: src.content };
    if (src.kind === 'record')
        throw new Error('unreachable: RECORD is written last');
    const entry = wheel.zip.entry(src.entry);
    const exp = wheel.record.expected(entry.name);
    if (src.fixShebang || !exp || exp.nodeAlgorithm !== 'sha256')
        return { kind: 'now', entry, exp, fix: src.fixShebang };
    return { kind: 'verbatim', entry, exp };
}
/** Bytes known now: generated files, rewritten scripts, entries read whole. */
function bytesFile(f, bytes) {
    return {
        file: { path: f.dest.slice(1), executable: f.executable, size: bytes.length, content: () => bytes },
        row: { path: f.recordPath, hash: recordHash(sha256(bytes)), size: String(bytes.length) }
    };
}
/** An entry read whole: checked against RECORD, its `#!python` line fixed when it is a script. */
function wholeFile(wheel, f, c, data, interpreter) {
    if (c.exp)
        wheel.record.verify(c.entry.name, c.exp, node_crypto.createHash(c.exp.nodeAlgorithm).update(data).digest());
    return bytesFile(f, c.fix ? fixScriptShebang(data, interpreter) : data);
}
/** An entry copied as it is: small ones come out of the shared windows, large ones stream. */
function verbatimFile(wheel, f, entry, exp, small) {
    const row = {
        path: f.recordPath,
        hash: recordHash(Buffer.from(exp.value, 'base64url')),
        size: String(entry.size)
    };
    const base = {
        path: f.dest.slice(1),
        executable: f.executable,
        size: entry.size,
        ...(entry.method === METHOD_DEFLATE ? { deflated: deflatedOf(wheel.zip, entry) } : {})
    };
    const verify = (digest) => wheel.record.verify(entry.name, exp, digest);
    if (entry.size < STREAM_BYTES) {
        const content = async () => {
            const data = await small.take(entry);
            verify(sha256(data));
            return data;
        };
        return { file: { ...base, content }, row };
    }
    const stream = streamEntry(wheel.zip, entry, verify);
    const content = async () => {
        const parts = [];
        await stream(async (c) => void parts.push(Buffer.from(c)));
        return Buffer.concat(parts);
    };
    return { file: { ...base, stream, content }, row };
}
/** The entry's deflate data, which stands for its content once reading the content has checked it. */
function deflatedOf(zip, entry) {
    return { crc32: entry.crc32, exact: () => zip.exactDeflate(entry), raw: () => zip.raw(entry) };
}
/** The new RECORD: a row per installed file, and its own with empty hash and size. */
function recordFile(plan, files) {
    const rf = plan.files.find((f) => f.source.kind === 'record');
    const rows = [...files.map((f) => f.row), { path: rf.recordPath, hash: '', size: '' }];
    const text = Buffer.from(formatRecord(rows), 'utf8');
    return { path: rf.dest.slice(1), executable: false, size: text.length, content: () => text };
}
function sha256(data) {
    return node_crypto.createHash('sha256').update(data).digest();
}

// Which Python a base image runs, and where that Python reads third-party packages from, found
// from the image's config (PATH, PYTHON_VERSION, VIRTUAL_ENV) and its filesystem's names alone:
// no container is started. Pure: an ImageFilesystem and an environment in, facts out.
//
// Layouts told apart (each as its installer puts packages where the interpreter reads them):
// - python.org builds (the official `python` images), conda: `<prefix>/lib/pythonX.Y/site-packages`
// - Debian and Ubuntu's python3: pip installs into `/usr/local/lib/pythonX.Y/dist-packages`
//   (Debian's site.py reads it; `site-packages` there is never on sys.path)
// - a virtualenv found through PATH (`/opt/venv/bin` with `pyvenv.cfg` above it)
// - other distributions' python3 under /usr: `/usr/lib/pythonX.Y/site-packages`
const FACTS_SCHEMA = 1;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** `KEY=value` lines of an image config's Env, as a map (the last one of a key wins). */
function envMap(env) {
    const out = new Map();
    for (const item of env ?? []) {
        const eq = item.indexOf('=');
        if (eq > 0)
            out.set(item.slice(0, eq), item.slice(eq + 1));
    }
    return out;
}
const PYTHON_NAME = /^python(\d+(\.\d+)?)?$/;
const VERSIONED = /^python(\d+)\.(\d+)$/;
function parent(p) {
    return node_path.posix.dirname(p);
}
function detectPython(fs, configEnv, files = new Map()) {
    const env = envMap(configEnv);
    const path = (env.get('PATH') ?? DEFAULT_PATH).split(':').filter((d) => d.startsWith('/'));
    const pythons = [];
    for (const dir of path) {
        for (const name of fs.list(dir)) {
            const full = `${dir === '/' ? '' : dir}/${name}`;
            if (PYTHON_NAME.test(name) && fs.isFile(full) && !pythons.includes(full))
                pythons.push(full);
        }
    }
    const facts = (python) => ({
        schema: FACTS_SCHEMA,
        python,
        pythons,
        hasSh: fs.isFile('/bin/sh'),
        path
    });
    const byName = (name) => pythons.find((p) => node_path.posix.basename(p) === name);
    const command = byName('python3') ?? byName('python') ?? pythons.find((p) => /^python3\.\d+$/.test(node_path.posix.basename(p)));
    if (!command)
        return facts(null);
    const executable = fs.realpath(command) ?? command;
    // A virtualenv: `pyvenv.cfg` one level above the bin directory PATH found it in.
    const venvDir = parent(parent(command));
    const venvCfg = `${venvDir === '/' ? '' : venvDir}/pyvenv.cfg`;
    const isVenv = fs.isFile(venvCfg);
    const fromName = VERSIONED.exec(node_path.posix.basename(executable)) ?? VERSIONED.exec(node_path.posix.basename(command));
    const realPrefix = parent(parent(executable));
    const libDirs = (prefix) => fs
        .list(`${prefix}/lib`)
        .filter((n) => VERSIONED.test(n) &&
        (fs.exists(`${prefix}/lib/${n}/os.py`) || fs.isDir(`${prefix}/lib/${n}/lib-dynload`)));
    const envVersion = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(env.get('PYTHON_VERSION') ?? '');
    let major;
    let minor;
    if (fromName) {
        major = Number(fromName[1]);
        minor = Number(fromName[2]);
    }
    else {
        const lib = libDirs(realPrefix)[0] ??
            (isVenv ? fs.list(`${venvDir}/lib`).find((n) => VERSIONED.test(n)) : undefined);
        const m = lib ? VERSIONED.exec(lib) : null;
        if (m) {
            major = Number(m[1]);
            minor = Number(m[2]);
        }
        else if (envVersion) {
            major = Number(envVersion[1]);
            minor = Number(envVersion[2]);
        }
        else {
            return facts(null);
        }
    }
    const xy = `python${major}.${minor}`;
    const patch = envVersion &&
        Number(envVersion[1]) === major &&
        Number(envVersion[2]) === minor &&
        envVersion[3] !== undefined
        ? Number(envVersion[3])
        : null;
    const root = (p) => (p === '/' ? '' : p);
    const stdlib = `${root(realPrefix)}/lib/${xy}`;
    const stdlibPath = [`${root(realPrefix)}/lib/python${major}${minor}.zip`, stdlib, `${stdlib}/lib-dynload`];
    const isDebian = realPrefix === '/usr' && (fs.isDir('/usr/lib/python3/dist-packages') || fs.isFile('/etc/debian_version'));
    const isConda = fs.isDir(`${root(realPrefix)}/conda-meta`);
    let kind;
    let sitePackages;
    let scripts;
    let sites;
    if (isDebian) {
        kind = 'debian';
        sites = [
            `/usr/local/lib/${xy}/dist-packages`,
            '/usr/lib/python3/dist-packages',
            `/usr/lib/${xy}/dist-packages`
        ];
        sitePackages = sites[0];
        scripts = '/usr/local/bin';
    }
    else if (realPrefix === '/usr' && !isConda) {
        kind = 'distro';
        sitePackages = `/usr/lib/${xy}/site-packages`;
        sites = [`/usr/lib64/${xy}/site-packages`, sitePackages].filter((d, i) => i === 1 || fs.isDir(d));
        scripts = path.includes('/usr/local/bin') ? '/usr/local/bin' : '/usr/bin';
    }
    else {
        kind = isConda ? 'conda' : 'python.org';
        sitePackages = `${root(realPrefix)}/lib/${xy}/site-packages`;
        sites = [sitePackages];
        scripts = `${root(realPrefix)}/bin`;
    }
    let prefix = realPrefix;
    if (isVenv) {
        const cfg = files.get(venvCfg) ?? '';
        const system = /^\s*include-system-site-packages\s*=\s*true\s*$/im.test(cfg);
        const venvSite = `${root(venvDir)}/lib/${xy}/site-packages`;
        sites = [venvSite, ...(system ? sites : [])];
        kind = 'venv';
        prefix = venvDir;
        sitePackages = venvSite;
        scripts = parent(command);
    }
    const pythonPath = (env.get('PYTHONPATH') ?? '').split(':').filter((d) => d.startsWith('/'));
    const sysPath = [...new Set([...pythonPath, ...stdlibPath, ...sites])];
    const hasPip = sites.some((s) => fs.isDir(`${s}/pip`));
    // Scripts name the versioned interpreter beside the one PATH finds (a venv's own bin keeps the
    // venv active; the versioned name survives a `python3` alternative being switched).
    const versioned = `${root(parent(command))}/${xy}`;
    const interpreter = fs.isFile(versioned) ? versioned : command;
    return facts({
        interpreter,
        command,
        executable,
        version: { major, minor, patch },
        kind,
        prefix,
        sitePackages,
        scripts,
        sysPath,
        hasPip
    });
}
/** One line for logs: `python 3.11 at /usr/bin/python3.11 (Debian layout): packages in \u2026`. */
function describePython(p) {
    const v = `${p.version.major}.${p.version.minor}${p.version.patch !== null ? `.${p.version.patch}` : ''}`;
    const kind = {
        'python.org': 'python.org layout',
        debian: 'Debian layout',
        venv: 'virtualenv',
        conda: 'conda',
        distro: 'distribution layout'
    }[p.kind];
    return `python ${v} at ${p.interpreter} (${kind}): packages in ${p.sitePackages}, scripts in ${p.scripts}`;
}

// Where the wheels builder installs, decided from what the base image's Python reads (base-python.ts)
// and what [tool.fast-build] says explicitly (which wins), and the check that what was installed
// is where that Python will find it. Pure.
class PythonLayoutError extends FastBuildError {
}
/** Label on deps images: the layout their packages were installed with (JSON), for the fast path. */
const PYTHON_LABEL = 'dev.fast-build.python';
/** The posix_prefix scheme of a prefix, as before detection existed (explicit settings). */
function prefixLayout(prefix, python) {
    const root = prefix === '/' ? '' : prefix;
    const minor = pythonMinor(python);
    return {
        site: `${root}/lib/python${minor}/site-packages`,
        scripts: `${root}/bin`,
        interpreter: `${root}/bin/python${minor}`,
        data: prefix,
        headers: `${root}/include/python${minor}`
    };
}
/** `<data>/lib/pythonX.Y/{site,dist}-packages` \u2192 `<data>` (pip's data scheme), else the prefix. */
function dataDirOf(site, fallback) {
    const m = /^(.*)\/lib(?:64)?\/python\d+\.\d+\/(?:site|dist)-packages$/.exec(site);
    return m ? m[1] || '/' : fallback;
}
/**
 * The install layout for a base image. Explicit `site-packages`, `interpreter` and `python-prefix`
 * win; the rest comes from the base image's Python. A base with no Python, or one of another
 * minor version than the plan's python, is an error naming both.
 */
function resolveLayout(args) {
    const { config, python, facts } = args;
    const minor = pythonMinor(python);
    const explicitPrefix = config.pythonPrefixExplicit ? prefixLayout(config.pythonPrefix, python) : null;
    const found = facts?.python ?? null;
    if (config.pythonInBase && facts && !found) {
        throw new PythonLayoutError(`base image ${args.base} (${args.platform}) has no Python: no python3 or python on its PATH (${facts.path.join(':')})`, { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.base-image' }, `choose a base image with Python ${minor} (such as python:${minor}-slim), or, when the deps bring their own Python, set python-in-base = false with site-packages and interpreter under [tool.fast-build]`);
    }
    if (config.pythonInBase && found && `${found.version.major}.${found.version.minor}` !== minor) {
        throw new PythonLayoutError(`python ${formatPython(python)} (${args.pythonFrom}) does not match base image ${args.base} (${args.platform}): its python3 is ${found.version.major}.${found.version.minor} (${found.executable})`, { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.python' }, `set python = "${found.version.major}.${found.version.minor}" under [tool.fast-build], or choose a base image with Python ${minor} (such as python:${minor}-slim); wheels for ${minor} would not load in ${found.version.major}.${found.version.minor}`);
    }
    const fallback = prefixLayout('/usr/local', python);
    const use = config.pythonInBase ? found : null;
    const site = config.sitePackages ?? explicitPrefix?.site ?? use?.sitePackages ?? fallback.site;
    const scripts = explicitPrefix?.scripts ?? use?.scripts ?? fallback.scripts;
    const interpreter = config.interpreter ?? explicitPrefix?.interpreter ?? use?.interpreter ?? fallback.interpreter;
    const data = explicitPrefix?.data ?? (use ? dataDirOf(use.sitePackages, use.prefix) : fallback.data);
    const headers = explicitPrefix?.headers ?? `${data === '/' ? '' : data}/include/python${minor}`;
    const layout = {
        purelib: site,
        platlib: site,
        scripts,
        data,
        headers,
        interpreter,
        python: { major: python.major, minor: python.minor }
    };
    const explicit = [
        config.sitePackages !== null ? 'site-packages' : null,
        config.interpreter !== null ? 'interpreter' : null,
        config.pythonPrefixExplicit ? 'python-prefix' : null
    ].filter((x) => x !== null);
    const description = use
        ? `${describePython(use)}${explicit.length ? ` (${explicit.join(', ')} as configured: ${site}, ${interpreter})` : ''}`
        : `python ${minor} from the deps (python-in-base = false): packages in ${site}, scripts in ${scripts}`;
    return {
        layout,
        python: use,
        // Without a Python in the base, the configured site directory is taken on trust.
        sysPath: use ? use.sysPath : [site],
        interpreters: use ? (facts?.pythons ?? []) : [interpreter],
        hasSh: facts?.hasSh ?? true,
        description
    };
}
function recordedPython(r) {
    return {
        interpreter: r.layout.interpreter,
        sitePackages: r.layout.purelib,
        scripts: r.layout.scripts,
        version: `${r.layout.python.major}.${r.layout.python.minor}`,
        sysPath: r.sysPath
    };
}
/** The deps image's recorded layout, or null when it has none (older images, Dockerfile builds). */
function readRecordedPython(labels) {
    const text = labels?.[PYTHON_LABEL];
    if (!text)
        return null;
    try {
        const v = JSON.parse(text);
        return typeof v.interpreter === 'string' &&
            typeof v.sitePackages === 'string' &&
            typeof v.scripts === 'string' &&
            Array.isArray(v.sysPath)
            ? v
            : null;
    }
    catch {
        return null;
    }
}
/**
 * The parents of a distribution's top-level modules and .dist-info, from its installed paths
 * (relative to the image root, as layer entries are).
 */
function installedDist(name, version, paths, layout) {
    const libs = [...new Set([layout.purelib, layout.platlib])];
    const dirs = new Set();
    const scripts = [];
    for (const rel of paths) {
        const abs = `/${rel}`;
        const lib = libs.find((l) => abs.startsWith(`${l}/`));
        if (lib)
            dirs.add(lib);
        else if (node_path.posix.dirname(abs) === layout.scripts)
            scripts.push(abs);
    }
    return { name, version, dirs: [...dirs].sort(), scripts: scripts.sort() };
}
function under$1(dir, sysPath) {
    return sysPath.includes(dir);
}
/**
 * Every distribution's modules sit directly in a directory the interpreter's sys.path holds, and
 * every script's interpreter exists in the image. Throws before anything is tagged otherwise.
 */
function verifyInstall(args) {
    const { dists, layout, resolved } = args;
    const lost = dists.filter((d) => d.dirs.some((dir) => !under$1(dir, resolved.sysPath)));
    if (lost.length > 0) {
        const dirs = [...new Set(lost.flatMap((d) => d.dirs.filter((dir) => !under$1(dir, resolved.sysPath))))];
        const names = lost.slice(0, 5).map((d) => `${d.name} ${d.version}`);
        const py = resolved.python
            ? `${resolved.python.command} (${resolved.python.executable})`
            : 'the interpreter';
        throw new PythonLayoutError(`${args.what} would not import: ${names.join(', ')}${lost.length > 5 ? ` and ${lost.length - 5} more` : ''} went into ${dirs.join(', ')}, which ${py} does not read (its sys.path: ${resolved.sysPath.join(', ')})`, { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.site-packages' }, resolved.python
            ? `remove site-packages (and python-prefix) from [tool.fast-build]: fast-build installs where the base image's Python reads packages (${resolved.python.sitePackages}); or put that directory on PYTHONPATH under [tool.fast-build.env]`
            : 'set site-packages to a directory on the interpreter sys.path');
    }
    const withScripts = dists.filter((d) => d.scripts.length > 0);
    if (withScripts.length === 0)
        return;
    const exists = (p) => resolved.interpreters.includes(p) || (args.addedPaths?.has(p.slice(1)) ?? false);
    const needsSh = /\s/.test(layout.interpreter) || Buffer.byteLength(layout.interpreter) + 3 > 127;
    const missing = !exists(layout.interpreter)
        ? layout.interpreter
        : needsSh && !resolved.hasSh
            ? '/bin/sh'
            : null;
    if (missing) {
        const example = withScripts[0];
        throw new PythonLayoutError(`${args.what}: console scripts (${example.scripts[0]} of ${example.name}${withScripts.length > 1 ? `, and those of ${withScripts.length - 1} more` : ''}) would start ${missing}, which does not exist in the image (its Pythons: ${resolved.interpreters.join(', ') || 'none'})`, { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.interpreter' }, resolved.python
            ? `remove interpreter from [tool.fast-build] (fast-build uses the base image's ${resolved.python.interpreter}), or set it to one of the Pythons listed`
            : 'set interpreter to the path of the Python the image runs');
    }
}

// The layer of some wheels, as a file in the layer cache: each wheel installed straight into the
// layer (our installer, pip's layout, no staging tree on disk), the layer written once, then its
// descriptor. Pure of the registry and of the plan.
/** Deps layers carry one fixed time, so the same wheels give the same layer on every commit. */
const DEPS_MTIME = 315532800; // 1980-01-01T00:00:00Z
/** Name the wheel (not its path in the artifact cache, which is by digest) in an installer error. */
function namingWheel(m) {
    return (e) => {
        if (e instanceof WheelError)
            throw new WheelError(`${m.label}: ${e.message}`, m.filename, e.hint ?? '', e.entry);
        throw e;
    };
}
/** Every parent directory of these paths, as layer entries (each layer carries its own). */
function parentDirs(paths) {
    const dirs = new Set();
    for (const path of paths)
        for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1))
            dirs.add(path.slice(0, i));
    return [...dirs].map((d) => ({ type: 'dir', path: d }));
}
/** A layer blob's file name in the layer cache. */
function layerBlobName(key, compression) {
    return `${key}${{ gzip: '.tar.gz', zstd: '.tar.zst', none: '.tar' }[compression]}`;
}
/**
 * The layer of these wheels, installed straight into it (nothing is written but the compressed
 * layer): each wheel's files are a segment of the blob, copied from an earlier layer where one
 * holds that wheel (only new wheels are read and compressed). A wheel whose deflate data cannot be
 * carried into the layer as it is (bytes after a stream), or a copied segment that turns out
 * damaged, has the layer written again from the wheels, every file deflated afresh in the first
 * case. Exported for its tests.
 */
async function buildLayerFile(key, parts, layout, compression, paths, onChunk) {
    try {
        const first = { carry: true, copy: true, ...(onChunk ? { onChunk } : {}) };
        return { ...(await writeLayerFile(key, parts, layout, compression, paths, first)), teed: !!onChunk };
    }
    catch (e) {
        const damaged = e instanceof SegmentDamagedError;
        if (!damaged && !(e instanceof InexactDeflateError))
            throw e;
        // Written again, from the wheels (deflated afresh too when their deflate data cannot be
        // carried): what `onChunk` was given is not this blob (`teed` is false).
        const again = { carry: damaged, copy: false };
        return { ...(await writeLayerFile(key, parts, layout, compression, paths, again)), teed: false };
    }
}
const sourcePaths = (s) => 'segment' in s ? s.segment.paths : s.wheel.entries.map((e) => e.path);
async function installPart(part, layout) {
    const member = await part.wheel();
    const wheel = await install(member.path, new LayerDestination(layout), { filename: member.filename }).catch(namingWheel(member));
    return { member, wheel };
}
async function writeLayerFile(key, parts, layout, compression, paths, how) {
    node_fs.mkdirSync(paths.layers, { recursive: true });
    const blob = paths.layerBlob(layerBlobName(key, compression));
    const tmp = `${blob}.${node_crypto.randomBytes(4).toString('hex')}.tmp`;
    const segmented = segmentable(compression);
    const sources = [];
    // Which part each path comes from.
    const owner = new Map();
    try {
        let layer;
        try {
            for (const part of parts)
                sources.push(how.copy && segmented && part.segment ? { segment: part.segment } : await installPart(part, layout));
            // Where two wheels of one layer install the same path, the later one wins, as when pip
            // installs them in that order. A copied segment holds all of its wheel's files, so one
            // that shares a path with another wheel of the layer is installed instead.
            const shared = new Set();
            sources.forEach((s, i) => {
                for (const path of sourcePaths(s)) {
                    const prev = owner.get(path);
                    if (prev !== undefined)
                        shared.add(prev).add(i);
                    owner.set(path, i);
                }
            });
            for (const i of shared)
                if ('segment' in sources[i])
                    sources[i] = await installPart(parts[i], layout);
            const entriesOf = (s, i) => 'segment' in s ? [] : s.wheel.entries.filter((e) => owner.get(e.path) === i);
            const opts = {
                mtime: DEPS_MTIME,
                compression,
                reuseDeflate: how.carry,
                file: tmp,
                ...(how.onChunk ? { onChunk: how.onChunk } : {})
            };
            const written = segmented
                ? buildSegmentedLayer([
                    { entries: parentDirs(owner.keys()) },
                    ...sources.map((s, i) => 'segment' in s ? { copy: s.segment.copy } : { entries: entriesOf(s, i) })
                ], opts)
                : buildLayer([...sources.flatMap(entriesOf), ...parentDirs(owner.keys())], opts);
            // Errors found while the layer is written (a RECORD hash) name the wheel too.
            layer = await written.catch((e) => {
                const s = e instanceof WheelError
                    ? sources.find((x) => 'member' in x && x.member.path === e.location.file)
                    : undefined;
                return s && 'member' in s ? namingWheel(s.member)(e) : Promise.reject(e);
            });
        }
        finally {
            await Promise.all(sources.map((s) => ('wheel' in s ? s.wheel.close() : undefined)));
        }
        node_fs.renameSync(tmp, blob);
        const dists = sources.map((s) => 'segment' in s
            ? s.segment.dist
            : installedDist(s.wheel.name, s.wheel.version, s.wheel.entries.map((e) => e.path), layout));
        // A segment is recorded for later layers to copy when it holds its whole wheel, written with
        // the wheel's deflate data carried (as any other build would write it), so copies keep every
        // layer the same bytes as a build from the wheels.
        const segments = [];
        if (layer.segments && how.carry && parts.length > 1)
            sources.forEach((s, i) => {
                const paths = sourcePaths(s);
                if (paths.every((p) => owner.get(p) === i))
                    segments.push({
                        ...layer.segments[i + 1],
                        wheel: parts[i].sha256,
                        paths: [...paths],
                        dist: dists[i]
                    });
            });
        // The descriptor last, written aside and renamed: a reader never sees half of it.
        const meta = {
            digest: layer.digest,
            diffId: layer.diffId,
            size: layer.size,
            dists,
            ...(segments.length ? { segments } : {})
        };
        const metaTmp = `${tmp}.json`;
        node_fs.writeFileSync(metaTmp, JSON.stringify(meta));
        node_fs.renameSync(metaTmp, paths.layerDescriptor(key));
        return {
            ...meta,
            file: blob,
            built: true,
            reused: sources.filter((s) => 'segment' in s).length,
            segments
        };
    }
    finally {
        node_fs.rmSync(tmp, { force: true });
    }
}

// The project itself (and its local path/workspace packages) installed in the image the way an
// editable install by its build backend would leave it (PEP 660, "Recording installed projects"):
// the source layer already puts the code on PYTHONPATH, but without a `.dist-info` directory
// `importlib.metadata.version("app")` raises, entry points are not registered and the
// `[project.scripts]` commands do not exist. So for each package this writes, next to the deps
// image's packages:
//
//   <site-packages>/<name>-<version>.dist-info/   METADATA, entry_points.txt, INSTALLER,
//                                                 direct_url.json, RECORD
//   <site-packages>/__editable__.<name>-<version>.pth   the package's import roots, one a line
//   <scripts>/<script>                            console and gui script wrappers
//
// Pure: parsed pyproject tables in, layer entries out. The wrappers are the bytes the wheel
// installer writes for a wheel's entry points (src/wheels/install/, which mirrors pip), so a
// command behaves the same whether it comes from a dependency or from the project.
//
// What a build backend would write that this does not: the long description (the readme is a
// file, and this module reads none), and anything a backend computes (dynamic dependencies, a
// version from git): the caller passes the lock's version, else the version is `0+unknown`, and a
// note says what is missing. Metadata-Version is 2.1, which every reader of installed
// metadata understands; extra names are written normalized (PEP 685), as newer backends do.
/** Written to `.dist-info/INSTALLER`. */
const INSTALLER = 'fast-build';
/** The version of a project whose version is dynamic and not in the lock. */
const UNKNOWN_VERSION = '0+unknown';
/** `<name>-<version>.dist-info`: name and version normalized, `-` \u2192 `_` (exactly one dash). */
function distInfoName(name, version) {
    return `${wheelName(name)}-${normalizedVersion(version).replace(/-/g, '_')}.dist-info`;
}
/** The binary distribution format's escaping of a name: runs of `-_.` \u2192 `_`, lowercase. */
function wheelName(name) {
    return name.replace(/[-_.]+/g, '_').toLowerCase();
}
function normalizedVersion(version) {
    const v = parseVersion(version);
    return v === null ? version : versionToString(v);
}
// ---------------------------------------------------------------------------------------------
// pyproject.toml \u2192 metadata
const CONSOLE = 'console_scripts';
const GUI = 'gui_scripts';
// importlib.metadata's EntryPoint.pattern: `module[:attr][ [extras]]`.
const OBJECT_REFERENCE = /^\s*[\w.]+\s*(:\s*[\w.]+\s*)?(\[.*\]\s*)?$/u;
/** A TOML key as it reads in a key path: bare when it can be, else quoted. */
function key(k) {
    return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}
function singleLine(text) {
    return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
class MetadataReader {
    pkg;
    project;
    poetry;
    r;
    notes = [];
    constructor(pkg, project, poetry) {
        this.pkg = pkg;
        this.project = project;
        this.poetry = poetry;
        this.r = new TomlReader(pkg.file, ConfigError);
    }
    note(text) {
        this.notes.push(`${this.pkg.file}: ${text}`);
    }
    dynamic() {
        return new Set(this.r.optStrings(this.project?.['dynamic'], 'project.dynamic') ?? []);
    }
    name() {
        const fromProject = this.r.optString(this.project?.['name'], 'project.name');
        const name = fromProject ?? this.r.optString(this.poetry?.['name'], 'tool.poetry.name');
        if (name === undefined)
            return null;
        if (!isValidName(name)) {
            this.r.fail(fromProject !== undefined ? 'project.name' : 'tool.poetry.name', `${JSON.stringify(name)} is not a valid project name`, 'use letters, digits and "-", "_", "." (starting and ending with a letter or digit)');
        }
        return name;
    }
    version() {
        const at = this.project?.['version'] !== undefined ? 'project.version' : 'tool.poetry.version';
        const written = this.r.optString(this.project?.['version'], 'project.version') ??
            this.r.optString(this.poetry?.['version'], 'tool.poetry.version');
        if (written !== undefined) {
            const v = parseVersion(written);
            if (v === null) {
                this.r.fail(at, `${JSON.stringify(written)} is not a PEP 440 version`, 'write a version such as 1.0.0, 2.1rc1 or 0.3.dev4');
            }
            return versionToString(v);
        }
        const locked = this.pkg.lockVersion === null ? null : parseVersion(this.pkg.lockVersion);
        if (locked)
            return versionToString(locked);
        this.note(`the version is dynamic and the lock has none, so the project is installed as version ${UNKNOWN_VERSION}` +
            ' (importlib.metadata.version() returns that)');
        return UNKNOWN_VERSION;
    }
    summary() {
        const text = this.r.optString(this.project?.['description'], 'project.description') ??
            this.r.optString(this.poetry?.['description'], 'tool.poetry.description');
        return text === undefined || singleLine(text) === '' ? null : singleLine(text);
    }
    requiresPython() {
        const written = this.r.optString(this.project?.['requires-python'], 'project.requires-python');
        if (written !== undefined)
            return singleLine(written) || null;
        const deps = this.poetryDependencies();
        const python = deps ? this.r.optString(deps['python'], 'tool.poetry.dependencies.python') : undefined;
        return python === undefined
            ? null
            : this.poetryConstraint(python, 'tool.poetry.dependencies.python', 'python');
    }
    poetryDependencies() {
        return this.r.optTable(this.poetry?.['dependencies'], 'tool.poetry.dependencies');
    }
    /** A Poetry constraint as one PEP 440 specifier set ('' for any version). */
    poetryConstraint(constraint, keyPath, what) {
        const alternatives = poetryToPep440(constraint);
        if (alternatives === null) {
            this.note(`${keyPath}: cannot read the constraint ${JSON.stringify(constraint)}; METADATA gives ${what} without it`);
            return '';
        }
        if (alternatives.some((a) => a.length === 0))
            return '';
        if (alternatives.length > 1) {
            // PEP 440 has no "or": a union cannot be written as one specifier set.
            this.note(`${keyPath}: ${JSON.stringify(constraint)} is a union, which METADATA cannot state; ${what} is given without it`);
            return '';
        }
        return alternatives[0].join(',');
    }
    requires() {
        const list = this.project?.['dependencies'];
        if (list !== undefined) {
            return this.r
                .strings(list, 'project.dependencies')
                .map((text, i) => this.requirement(text, `project.dependencies[${i}]`));
        }
        const deps = this.poetryDependencies();
        if (deps)
            return this.poetryRequirements(deps)
                .filter((d) => !d.optional)
                .map((d) => formatRequirement(d.req));
        if (this.dynamic().has('dependencies')) {
            this.note('the dependencies are dynamic (the build backend computes them); METADATA lists none');
        }
        return [];
    }
    requirement(text, keyPath) {
        return formatRequirement(parseRequirement(text, { file: this.pkg.file, keyPath }));
    }
    extras() {
        const out = new Map();
        const add = (extra, req) => {
            const name = normalizeExtra(extra);
            const marker = andMarkers(req.marker, parseMarker(`extra == "${name}"`));
            const list = out.get(name) ?? [];
            list.push(formatRequirement({ ...req, marker }));
            out.set(name, list);
        };
        const optional = this.r.optTable(this.project?.['optional-dependencies'], 'project.optional-dependencies');
        if (optional) {
            for (const [extra, list] of Object.entries(optional)) {
                const at = `project.optional-dependencies.${key(extra)}`;
                if (!out.has(normalizeExtra(extra)))
                    out.set(normalizeExtra(extra), []);
                this.r
                    .strings(list, at)
                    .forEach((text, i) => add(extra, parseRequirement(text, { file: this.pkg.file, keyPath: `${at}[${i}]` })));
            }
            return out;
        }
        const poetryExtras = this.r.optTable(this.poetry?.['extras'], 'tool.poetry.extras');
        const deps = this.poetryDependencies();
        if (poetryExtras) {
            const optionalDeps = deps ? this.poetryRequirements(deps).filter((d) => d.optional) : [];
            for (const [extra, names] of Object.entries(poetryExtras)) {
                const at = `tool.poetry.extras.${key(extra)}`;
                if (!out.has(normalizeExtra(extra)))
                    out.set(normalizeExtra(extra), []);
                for (const written of this.r.strings(names, at)) {
                    const name = normalizeName(written.replace(/\[.*$/, ''));
                    const found = optionalDeps.filter((d) => d.req.name === name);
                    if (found.length === 0) {
                        this.note(`${at}: ${JSON.stringify(written)} is not an optional dependency in tool.poetry.dependencies; the extra leaves it out`);
                    }
                    for (const d of found)
                        add(extra, d.req);
                }
            }
        }
        else if (this.dynamic().has('optional-dependencies')) {
            this.note('the optional dependencies are dynamic (the build backend computes them); METADATA lists none');
        }
        return out;
    }
    /** [tool.poetry.dependencies] as poetry-core writes them into METADATA (python left out). */
    poetryRequirements(deps) {
        const out = [];
        for (const [name, spec] of Object.entries(deps)) {
            if (name.toLowerCase() === 'python')
                continue;
            // A list is Poetry's "multiple constraints": one requirement per entry, each with its markers.
            const specs = Array.isArray(spec) ? spec : [spec];
            specs.forEach((s, i) => {
                const at = `tool.poetry.dependencies.${key(name)}${Array.isArray(spec) ? `[${i}]` : ''}`;
                out.push(this.poetryRequirement(name, s, at));
            });
        }
        return out;
    }
    poetryRequirement(name, spec, at) {
        const parse = (text) => parseRequirement(text, { file: this.pkg.file, keyPath: at });
        if (typeof spec === 'string')
            return { req: parse(name + this.poetryConstraint(spec, at, name)), optional: false };
        const t = this.r.table(spec, at);
        const extras = this.r.optStrings(t['extras'], `${at}.extras`) ?? [];
        const head = name + (extras.length > 0 ? `[${extras.join(',')}]` : '');
        const markers = [];
        const written = this.r.optString(t['markers'], `${at}.markers`);
        if (written)
            markers.push(written);
        const python = this.r.optString(t['python'], `${at}.python`);
        const pythonMarker = python === undefined ? null : pythonConstraintMarker(python);
        if (pythonMarker)
            markers.push(pythonMarker);
        const platform = this.r.optString(t['platform'], `${at}.platform`);
        if (platform)
            markers.push(`sys_platform == ${JSON.stringify(platform)}`);
        const marker = markers.length === 0 ? '' : markers.map((m) => (markers.length > 1 ? `(${m})` : m)).join(' and ');
        let body;
        const git = this.r.optString(t['git'], `${at}.git`);
        const url = this.r.optString(t['url'], `${at}.url`);
        if (git !== undefined) {
            const rev = this.r.optString(t['rev'], `${at}.rev`) ??
                this.r.optString(t['tag'], `${at}.tag`) ??
                this.r.optString(t['branch'], `${at}.branch`);
            const sub = this.r.optString(t['subdirectory'], `${at}.subdirectory`);
            const base = git.startsWith('git+') ? git : `git+${git}`;
            body = `${head} @ ${base}${rev ? `@${rev}` : ''}${sub ? `#subdirectory=${sub}` : ''}${marker ? ' ' : ''}`;
        }
        else if (url !== undefined) {
            body = `${head} @ ${url}${marker ? ' ' : ''}`;
        }
        else if (t['path'] !== undefined) {
            // poetry-core writes a file:// URL of the build machine's directory, which means nothing in
            // the image; the package is installed here by name (it is one of the local packages).
            body = head;
        }
        else {
            const version = this.r.optString(t['version'], `${at}.version`) ?? '*';
            body = head + this.poetryConstraint(version, `${at}.version`, name);
        }
        return {
            req: parse(marker ? `${body}; ${marker}` : body),
            optional: this.r.optBool(t['optional'], `${at}.optional`) ?? false
        };
    }
    entryPoints() {
        const groups = new Map();
        const put = (group, name, value, at) => {
            const g = groups.get(group) ?? new Map();
            groups.set(group, g);
            const prev = g.get(name);
            if (prev !== undefined) {
                if (prev !== value)
                    this.note(`${at}: ${group} ${JSON.stringify(name)} is declared twice; the first (${prev}) is kept`);
                return;
            }
            checkEntryPoint(this.pkg.file, group, name, value, at);
            g.set(name, value);
        };
        const fromTable = (group, table, at) => {
            for (const [name, value] of Object.entries(this.r.optTable(table, at) ?? {})) {
                put(group, name, this.r.string(value, `${at}.${key(name)}`), `${at}.${key(name)}`);
            }
        };
        groups.set(CONSOLE, new Map());
        groups.set(GUI, new Map());
        fromTable(CONSOLE, this.project?.['scripts'], 'project.scripts');
        fromTable(GUI, this.project?.['gui-scripts'], 'project.gui-scripts');
        const more = this.r.optTable(this.project?.['entry-points'], 'project.entry-points') ?? {};
        for (const [group, table] of Object.entries(more)) {
            const at = `project.entry-points.${key(group)}`;
            if (group === CONSOLE || group === GUI) {
                this.r.fail(at, `${group} cannot be declared as an entry-point group (PEP 621)`, `move them to [project.${group === CONSOLE ? 'scripts' : 'gui-scripts'}]`);
            }
            fromTable(group, table, at);
        }
        const poetryScripts = this.r.optTable(this.poetry?.['scripts'], 'tool.poetry.scripts') ?? {};
        for (const [name, spec] of Object.entries(poetryScripts)) {
            const at = `tool.poetry.scripts.${key(name)}`;
            const script = this.poetryScript(name, spec, at);
            if (script)
                put(CONSOLE, name, script.value, script.at);
        }
        const plugins = this.r.optTable(this.poetry?.['plugins'], 'tool.poetry.plugins') ?? {};
        for (const [group, table] of Object.entries(plugins))
            fromTable(group, table, `tool.poetry.plugins.${key(group)}`);
        for (const [group, g] of groups)
            if (g.size === 0)
                groups.delete(group);
        return groups;
    }
    /** poetry-core's forms: `"mod:func"`, `{ callable = \u2026 }` (Poetry 1), `{ reference = \u2026, type = "console" }`. */
    poetryScript(name, spec, at) {
        if (typeof spec === 'string')
            return { value: spec, at };
        const t = this.r.table(spec, at);
        const type = this.r.optString(t['type'], `${at}.type`) ?? 'console';
        if (type === 'file') {
            this.note(`${at}: a script of type "file" is not installed (its file is copied by poetry build only); run it by its path`);
            return null;
        }
        if (type !== 'console') {
            this.r.fail(`${at}.type`, `unknown script type ${JSON.stringify(type)}`, 'use type = "console" (or "file")');
        }
        const field = t['callable'] !== undefined ? 'callable' : 'reference';
        if (t[field] === undefined) {
            this.r.fail(at, 'the script has neither callable nor reference', `write ${key(name)} = "package.module:function"`);
        }
        const reference = this.r.string(t[field], `${at}.${field}`);
        const extras = this.r.optStrings(t['extras'], `${at}.extras`) ?? [];
        return { value: reference + (extras.length > 0 ? ` [${extras.join(', ')}]` : ''), at: `${at}.${field}` };
    }
}
/** An entry point must be an object reference; a script's needs `module:function` (pip runs it). */
function checkEntryPoint(file, group, name, value, at) {
    const script = group === CONSOLE || group === GUI;
    const parsed = parseExportEntry(`${name} = ${value}`);
    const badName = name.trim() !== name || name === '' || name.startsWith('[') || name.includes('=') || /[\0\r\n]/.test(name);
    // A script's name becomes a file name, so it must be what distlib reads as the whole name.
    const badScriptName = script && (parsed === null || parsed === 'invalid' || parsed.name !== name || /^\.+$/.test(name));
    if (badName || badScriptName) {
        throw new ConfigError(`${JSON.stringify(name)} is not a valid ${script ? 'script' : 'entry point'} name`, { file, keyPath: at }, script
            ? 'name scripts with letters, digits and "-", "_", ".", "+"'
            : 'use a name without "=", not starting with "["');
    }
    const ok = OBJECT_REFERENCE.test(value) &&
        (!script ||
            (parsed !== null &&
                parsed !== 'invalid' &&
                parsed.suffix !== null &&
                parsed.prefix === value.split(':')[0].trim()));
    if (!ok) {
        throw new ConfigError(`${JSON.stringify(value)} is not a ${script ? '"module:function" reference' : 'valid object reference'}`, { file, keyPath: at }, script
            ? `write ${key(name)} = "package.module:function", naming the function the command runs`
            : `write ${key(name)} = "package.module:object"`);
    }
}
/** What a package's pyproject.toml says, or null (and a note) when it names no project. */
function projectMetadata(pkg, notes = []) {
    const project = isTable(pkg.pyproject['project']) ? pkg.pyproject['project'] : undefined;
    const tool = isTable(pkg.pyproject['tool']) ? pkg.pyproject['tool'] : undefined;
    const poetry = tool && isTable(tool['poetry']) ? tool['poetry'] : undefined;
    const m = new MetadataReader(pkg, project, poetry);
    try {
        const name = m.name();
        if (name === null) {
            m.note('names no project ([project] name or [tool.poetry] name), so it is not installed (no .dist-info, no scripts)');
            return null;
        }
        return {
            name,
            version: m.version(),
            summary: m.summary(),
            requiresPython: m.requiresPython(),
            requires: m.requires(),
            extras: m.extras(),
            entryPoints: m.entryPoints()
        };
    }
    finally {
        notes.push(...m.notes);
    }
}
// ---------------------------------------------------------------------------------------------
// metadata \u2192 files
/** METADATA (core metadata 2.1): the fields importlib.metadata and pip read. */
function metadataText(m) {
    const lines = ['Metadata-Version: 2.1', `Name: ${m.name}`, `Version: ${m.version}`];
    if (m.summary !== null)
        lines.push(`Summary: ${m.summary}`);
    if (m.requiresPython !== null)
        lines.push(`Requires-Python: ${m.requiresPython}`);
    for (const r of m.requires)
        lines.push(`Requires-Dist: ${r}`);
    for (const [extra, reqs] of m.extras) {
        lines.push(`Provides-Extra: ${extra}`);
        for (const r of reqs)
            lines.push(`Requires-Dist: ${r}`);
    }
    return lines.join('\n') + '\n';
}
/** entry_points.txt as setuptools writes it: console, gui, then the other groups by name. */
function entryPointsText(groups) {
    const rank = (g) => (g === CONSOLE ? 0 : g === GUI ? 1 : 2);
    const order = [...groups.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    return order
        .map((g) => `[${g}]\n${[...groups.get(g)].map(([name, value]) => `${name} = ${value}\n`).join('')}\n`)
        .join('');
}
/** Python's `urllib.parse.quote(path)`: UTF-8 bytes outside the unreserved set and `/` escaped. */
function quotePath(path) {
    return [...Buffer.from(path, 'utf8')]
        .map((b) => {
        const c = String.fromCharCode(b);
        return /[A-Za-z0-9_.~/-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
        .join('');
}
/** direct_url.json for an editable install of a directory, as pip writes it (sorted keys). */
function directUrlText(dirInImage) {
    return `{"dir_info": {"editable": true}, "url": ${JSON.stringify(`file://${quotePath(dirInImage)}`)}}`;
}
function checkAbsolute(path, what, file) {
    if (!path.startsWith('/') ||
        node_path.posix.normalize(path) !== path ||
        (path !== '/' && path.endsWith('/')) ||
        /[\0\r\n]/.test(path)) {
        throw new ConfigError(`${what} must be a normalized absolute path inside the image, not ${JSON.stringify(path)}`, file ? { file } : {}, `give ${what} as an absolute path such as /app`);
    }
}
function under(dir, name) {
    return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/**
 * The files an editable install of each package leaves in site-packages and the scripts
 * directory. Packages are taken in order: a later package with an already-installed name is
 * skipped, and a script a package before it already wrote is left as the first wrote it (both with
 * a note), so list the project first.
 */
function projectInstallFiles(input) {
    const { layout } = input;
    checkAbsolute(layout.sitePackages, 'the site-packages directory');
    checkAbsolute(layout.scripts, 'the scripts directory');
    const notes = [];
    const files = [];
    const scripts = new Map(); // script path \u2192 the package that wrote it
    const distributions = [];
    const installed = new Map();
    for (const pkg of input.packages) {
        checkAbsolute(pkg.dirInImage, 'the package directory', pkg.file);
        for (const root of pkg.importRoots)
            checkAbsolute(root, 'an import root', pkg.file);
        const meta = projectMetadata(pkg, notes);
        if (meta === null)
            continue;
        const normalized = normalizeName(meta.name);
        const first = installed.get(normalized);
        if (first !== undefined) {
            notes.push(`${pkg.file}: ${meta.name} is already installed from ${first}; this one is skipped`);
            continue;
        }
        installed.set(normalized, pkg.file);
        const distInfo = distInfoName(meta.name, meta.version);
        const stem = distInfo.slice(0, -'.dist-info'.length);
        const own = [];
        const text = (path, content, executable = false) => own.push({ path, bytes: Buffer.from(content, 'utf8'), executable });
        const inDistInfo = (name) => under(under(layout.sitePackages, distInfo), name);
        text(inDistInfo('METADATA'), metadataText(meta));
        text(inDistInfo('INSTALLER'), `${INSTALLER}\n`);
        text(inDistInfo('direct_url.json'), directUrlText(pkg.dirInImage));
        if (meta.entryPoints.size > 0)
            text(inDistInfo('entry_points.txt'), entryPointsText(meta.entryPoints));
        // site.py adds each existing directory a .pth line names to sys.path, after PYTHONPATH: the
        // package imports wherever the interpreter runs from, as after `pip install -e`.
        if (pkg.importRoots.length > 0) {
            text(under(layout.sitePackages, `__editable__.${stem}.pth`), [...new Set(pkg.importRoots)].map((r) => `${r}\n`).join(''));
        }
        for (const group of [CONSOLE, GUI]) {
            for (const [name, value] of meta.entryPoints.get(group) ?? []) {
                const path = under(layout.scripts, name);
                const by = scripts.get(path);
                if (by !== undefined) {
                    notes.push(`${pkg.file}: the script ${name} is already installed from ${by}; this one is skipped`);
                    continue;
                }
                const entry = parseExportEntry(`${name} = ${value}`);
                // checkEntryPoint has refused anything else.
                if (entry === null || entry === 'invalid')
                    throw new Error(`unreachable: ${name} = ${value}`);
                scripts.set(path, pkg.file);
                own.push({
                    path,
                    bytes: entryPointScript(entry, layout.interpreter, layout.pip ?? 'pip-23'),
                    executable: true
                });
            }
        }
        const recordPath = inDistInfo('RECORD');
        const rows = own.map((f) => ({
            path: node_path.posix.relative(layout.sitePackages, f.path),
            hash: recordHash(node_crypto.createHash('sha256').update(f.bytes).digest()),
            size: String(f.bytes.length)
        }));
        // RECORD lists itself last, without a hash (it cannot hold its own).
        const record = formatRecord(rows) +
            formatRecord([{ path: node_path.posix.relative(layout.sitePackages, recordPath), hash: '', size: '' }]);
        text(recordPath, record);
        files.push(...own);
        distributions.push({
            name: meta.name,
            version: meta.version,
            distInfo: under(layout.sitePackages, distInfo)
        });
    }
    return {
        entries: layerEntries(files),
        scripts: [...scripts.keys()].sort(compare),
        distributions,
        notes
    };
}
/** Every directory above the files, then the files, sorted by path (relative to the image root). */
function layerEntries(files) {
    const dirs = new Set();
    for (const f of files) {
        const parts = f.path.slice(1).split('/');
        for (let i = 1; i < parts.length; i++)
            dirs.add(parts.slice(0, i).join('/'));
    }
    const entries = [...dirs].map((path) => ({ type: 'dir', path }));
    for (const f of files) {
        const bytes = f.bytes;
        entries.push({
            type: 'file',
            path: f.path.slice(1),
            executable: f.executable,
            size: bytes.length,
            content: () => bytes
        });
    }
    return entries.sort((a, b) => compare(a.path, b.path));
}

// The edge of project-install.ts: read the pyproject.toml of the project and of each local package
// the source layer ships, and build the small layer that installs them (their .dist-info, .pth
// and commands) where the deps image's Python reads packages. Its bytes depend only on that
// metadata and the layout, so a code change leaves it as it was.
/** The packages to install: every shipped package with a pyproject.toml that is not virtual. */
function localProjects(plan, source, refs) {
    const notes = [];
    const versions = new Map();
    for (const v of plan.variants)
        for (const p of v.platforms)
            for (const e of p.closure.local)
                if (e.package.version)
                    versions.set(e.package.name, e.package.version);
    const virtual = new Set(refs.filter((r) => r.virtual).map((r) => r.path));
    const projects = [];
    for (const pkg of source.packages) {
        const file = node_path.join(plan.project.dir, pkg.path, 'pyproject.toml');
        const display = node_path.relative(process.cwd(), file) || 'pyproject.toml';
        if (virtual.has(pkg.path)) {
            // As uv does: a virtual project (no [build-system]) is not installed, only its dependencies.
            notes.push(`${display}: not installed as a package (the lock marks it virtual); its code is on PYTHONPATH`);
            continue;
        }
        if (!node_fs.existsSync(file))
            continue;
        const { data } = readTomlFile(file, display);
        if (!installable(data)) {
            notes.push(`${display}: not installed as a package (package mode is off); its code is on PYTHONPATH`);
            continue;
        }
        const name = projectName(data);
        projects.push({
            pyproject: data,
            file: display,
            dirInImage: pkg.dir,
            importRoots: pkg.importRoots,
            lockVersion: name ? (versions.get(normalizeName(name)) ?? null) : null
        });
    }
    return { projects, notes };
}
function table$1(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
}
function projectName(data) {
    const n = table$1(data['project'])?.['name'] ?? table$1(table$1(data['tool'])?.['poetry'])?.['name'];
    return typeof n === 'string' ? n : null;
}
/** Poetry's `package-mode = false` and uv's `package = false` mean "not a package": nothing to install. */
function installable(data) {
    const tool = table$1(data['tool']);
    if (table$1(tool?.['poetry'])?.['package-mode'] === false)
        return false;
    if (table$1(tool?.['uv'])?.['package'] === false)
        return false;
    return true;
}
/** The project layer for one deps image's Python, checked to land on its sys.path. */
async function projectLayer(args) {
    if (args.projects.length === 0)
        return { layer: null, notes: [] };
    const layout = {
        sitePackages: args.python.sitePackages,
        scripts: args.python.scripts,
        interpreter: args.python.interpreter
    };
    const installed = projectInstallFiles({ packages: args.projects, layout });
    if (installed.distributions.length === 0)
        return { layer: null, notes: installed.notes };
    const pyLayout = {
        purelib: layout.sitePackages,
        platlib: layout.sitePackages,
        scripts: layout.scripts,
        interpreter: layout.interpreter
    };
    verifyInstall({
        dists: installed.distributions.map((d) => installedDist(d.name, d.version, installed.entries.filter((e) => e.type === 'file').map((e) => e.path), pyLayout)),
        layout: pyLayout,
        // The interpreter is the deps image's own, checked when it was built.
        resolved: { sysPath: args.python.sysPath, interpreters: [layout.interpreter], hasSh: true, python: null },
        what: args.what,
        file: args.file
    });
    const blob = await buildLayer(installed.entries, { mtime: DEPS_MTIME, compression: args.compression });
    return {
        layer: {
            blob,
            distributions: installed.distributions.map((d) => `${d.name} ${d.version}`),
            scripts: installed.scripts.length
        },
        notes: installed.notes
    };
}

// A variant's app image on its deps image (found, or built just now): the run-time layer when the
// variant has run-time packages, the project's own layer (its metadata and commands, by the
// Python the deps image has), the source layer, and an SBOM of exactly its closure per platform.
/** What the run-time shim needs of a deps image's recorded Python. */
function installOf(r) {
    return {
        prefix: node_path.dirname(r.scripts),
        sitePackages: r.sitePackages,
        scripts: r.scripts,
        interpreter: r.interpreter
    };
}
/**
 * Whether a variant's run-time packages can be pinned for pip (the requirements the shim installs),
 * before any deps image is built: a package pip cannot install at start fails the variant early.
 * No layer is written; that waits for the deps image's Python (runtimeLayers).
 */
function checkRuntime(v, lockPath, install) {
    if (!hasRuntime(v.platforms))
        return;
    for (const p of v.platforms)
        runtimeFiles({ variant: v.name, platform: p, install, lockPath });
}
/**
 * The run-time layer of each platform of a variant (by formatPlatform), or null when the variant
 * has no run-time packages. Small (a shim and a requirements file), so built in memory.
 */
async function runtimeLayers(v, compression, lockPath, install) {
    if (!hasRuntime(v.platforms))
        return null;
    const out = new Map();
    for (const p of v.platforms) {
        const files = runtimeFiles({ variant: v.name, platform: p, install: install(p.platform), lockPath });
        const blob = await buildLayer(runtimeEntries(files), { mtime: RUNTIME_MTIME, compression });
        out.set(formatPlatform(p.platform), { blob, packages: files.requirements.length });
    }
    return out;
}
function settingsFor(plan, v, deps, source, git, created) {
    const c = plan.project.config;
    const labels = { 'dev.fast-build.variant': v.name, 'dev.fast-build.hash': v.hash };
    if (git.revision)
        labels['org.opencontainers.image.revision'] = git.revision;
    if (git.sourceUrl)
        labels['org.opencontainers.image.source'] = git.sourceUrl;
    labels['org.opencontainers.image.base.digest'] = deps.digest;
    labels['org.opencontainers.image.base.name'] = deps.ref;
    return {
        workdir: c.workdir,
        env: c.env,
        pythonPath: source.pythonPath,
        entrypoint: c.entrypoint,
        cmd: c.cmd,
        labels,
        created
    };
}
/** The project's own layer per Python it installs for, made once per build and Python. */
function projectLayers(ctx) {
    let projects = null;
    const jobs = new Map();
    return (tree, python, what) => {
        if (!projects) {
            projects = localProjects(ctx.plan, tree, ctx.source.localRefs);
            for (const n of projects.notes)
                ctx.progress(null, `note: ${n}`);
        }
        const key = JSON.stringify(python);
        let job = jobs.get(key);
        if (!job) {
            job = projectLayer({
                projects: projects.projects,
                python,
                compression: ctx.compression,
                what,
                file: ctx.plan.project.file
            }).then(({ layer, notes }) => {
                for (const n of notes)
                    ctx.progress(null, `note: ${n}`);
                return layer;
            });
            jobs.set(key, job);
        }
        return job;
    };
}
/** Whether `p` rejects (once it settles). */
const rejects = (p) => p.then(() => false, () => true);
/** Each build's SBOM documents, by variant and platform (see sbomDocument). */
const documents = new WeakMap();
/**
 * The SBOM document of a variant's image for one platform, made once: it depends on the plan
 * alone, not on the images, so prepareSboms can make it before they exist.
 */
function sbomDocument(ctx, v, pp) {
    let made = documents.get(ctx);
    if (!made)
        documents.set(ctx, (made = new Map()));
    const key = `${v.name}\n${formatPlatform(pp.platform)}`;
    let doc = made.get(key);
    if (!doc) {
        doc = sbomBytes(cycloneDxSbom({ variant: v, platform: pp, created: ctx.created, name: ctx.plan.project.name ?? v.name }));
        made.set(key, doc);
    }
    return doc;
}
/**
 * Make a variant's SBOM documents now, while its deps image is built: a few milliseconds of
 * work each, which would otherwise stand between the deps image's last layer and its manifests.
 */
function prepareSboms(ctx, v) {
    try {
        for (const pp of v.platforms)
            sbomDocument(ctx, v, pp);
    }
    catch {
        // Made again when the SBOM is attached, which reports the failure (as a warning).
    }
}
/**
 * Each app image gets an SBOM of exactly its closure, attached while the image's own manifests
 * and tags are written (a referrer may arrive before its subject: registries accept that, and
 * the fallback tag does not care). An extra: failing to attach it warns.
 */
function attachSbomOf(ctx, v, platform, manifest, say, after) {
    const pp = v.platforms.find((x) => x.platform.architecture === platform.architecture);
    if (!pp)
        return Promise.resolve(null);
    const { created } = ctx;
    return (async () => {
        const document = sbomDocument(ctx, v, pp);
        // Its blobs go up at once; the artifact waits for the deps image below the app image.
        const a = await attachSbom({
            store: ctx.store,
            subject: manifest,
            document,
            created,
            ...(after ? { after } : {})
        });
        return { platform: formatPlatform(platform), digest: a.descriptor.digest, tag: a.tag };
    })().catch(async (e) => {
        // A deps image that failed to be written fails the variant, which says so: no SBOM either.
        if (after && (await rejects(after)))
            return null;
        say(`warning: the SBOM of ${formatPlatform(platform)} was not attached: ${describeError(e)}`);
        return null;
    });
}
async function sbomsOf(store, jobs, say) {
    const out = (await Promise.all(jobs)).filter((x) => x !== null);
    if (out.length > 0)
        say(`SBOM (CycloneDX) attached${out[0].tag ? ` as ${store.name}:${out.map((x) => x.tag).join(', ')}` : ' (referrers API)'}`);
    return out;
}
/** Each platform's deps image Python (by formatPlatform), and the run-time layers it makes. */
async function pythonsOf(ctx, v, deps) {
    const pythons = new Map();
    for (const pi of deps.platforms)
        pythons.set(formatPlatform(pi.platform), await ctx.sites.depsPython(v, deps.ref, pi));
    const runtime = await runtimeLayers(v, ctx.compression, ctx.plan.lock.path, (p) => {
        const py = pythons.get(formatPlatform(p));
        return py ? installOf(py) : ctx.plan.install;
    });
    return { pythons, runtime };
}
/**
 * Push the variant's app image on `deps` under `tags`; the pushed image and its SBOMs. With
 * `after`, `deps` is still being written: see AppImageArgs.after.
 */
async function buildAppImage(ctx, projectLayerFor, v, deps, tags, after) {
    const say = (m) => ctx.progress(v.name, m);
    const { pythons, runtime } = await pythonsOf(ctx, v, deps);
    const src = await ctx.source.layer;
    const layerOutcome = ctx.source.takeOutcome(src.uploaded);
    const project = new Map();
    for (const pi of deps.platforms) {
        const platform = formatPlatform(pi.platform);
        const py = pythons.get(platform);
        project.set(platform, py ? await projectLayerFor(src.source, py, `app image of ${v.name} (${platform})`) : null);
    }
    const sbomJobs = [];
    const pushed = await pushAppImage({
        store: ctx.store,
        deps,
        layer: src.layer,
        settings: settingsFor(ctx.plan, v, deps, src.source, ctx.git, ctx.created),
        tags,
        ...(layerOutcome ? { layerOutcome } : {}),
        ...(runtime ? { runtime: (platform) => runtime.get(formatPlatform(platform)) ?? null } : {}),
        project: (platform) => project.get(formatPlatform(platform)) ?? null,
        onManifest: (platform, manifest) => sbomJobs.push(attachSbomOf(ctx, v, platform, manifest, say, after)),
        onProgress: say,
        ...(after ? { after } : {})
    });
    return { pushed, sboms: await sbomsOf(ctx.store, sbomJobs, say) };
}

// Which named package index a lock's registry URL is, so that its credentials are found under
// the name people already use: uv keeps only the URL in uv.lock and the name in [[tool.uv.index]]
// (credentials in UV_INDEX_<NAME>_USERNAME/PASSWORD); Poetry names sources in the lock itself.
/** Userinfo aside (the lock model's URLs have none; pyproject's may), trailing slashes and case. */
function comparable(url) {
    return withoutUserinfo(url).replace(/\/+$/, '').toLowerCase();
}
/** [[tool.uv.index]] and [[tool.poetry.source]] entries that have both a name and a URL. */
function namedIndexes(project) {
    const out = [];
    const tool = project.data['tool'];
    const uv = tool && typeof tool === 'object' && !Array.isArray(tool)
        ? tool['uv']
        : undefined;
    const list = uv && typeof uv === 'object' ? uv['index'] : undefined;
    if (Array.isArray(list)) {
        for (const e of list) {
            if (e && typeof e === 'object' && typeof e.name === 'string' && typeof e.url === 'string')
                out.push({ name: e.name, url: e.url });
        }
    }
    for (const s of project.poetrySources)
        if (s.url)
            out.push({ name: s.name, url: s.url });
    return out;
}
/** The name the project gives the index at `url`, or null. */
function indexNameFor(indexes, url) {
    const key = comparable(url);
    return indexes.find((i) => comparable(i.url) === key)?.name ?? null;
}

// The Dockerfile builder, as data: for variants the wheels builder cannot build (an sdist-only
// package, a git dependency, system libraries), the deps image comes from a Dockerfile run by
// `docker buildx build` or `buildah bud`. Pure: the build context's files, the default Dockerfile,
// the engines' argument lists. dockerfile-build.ts runs them.
//
// The build context holds only what the deps stage needs: a generated requirements file per
// platform (`requirements-<os>-<arch>.txt`: exact pins, --hash lines, markers already evaluated,
// the lock's index; `requirements-vcs-<os>-<arch>.txt`: git dependencies at their locked commits,
// which pip cannot hash), never the source. A code change therefore cannot invalidate it.
/** The engine a command line drives, from its program name. */
function engineOf(command) {
    return node_path.basename(command[0] ?? '') === 'buildah' ? 'buildah' : 'docker';
}
const platformSlug = (p) => `${p.os}-${p.architecture}`;
const requirementsName = (p) => `requirements-${platformSlug(p)}.txt`;
const vcsRequirementsName = (p) => `requirements-vcs-${platformSlug(p)}.txt`;
/** The build context's files for one variant: two requirements files per platform. */
function contextFiles(variant, platforms, lockPath) {
    const refuse = (pkg, what, why) => {
        throw new DockerfileError(`${variant}: ${pkg.name}${pkg.version ? ` ${pkg.version}` : ''} ${what}: ${why}`, { file: lockPath, line: pkg.line }, 'the Dockerfile build context holds only what pip can fetch: lock the package from an index, a URL or git');
    };
    const files = [];
    for (const p of platforms) {
        const reqs = pinnedRequirements(p.closure.installed, p.target, pinOptions(refuse));
        const hashed = reqs.filter((r) => r.hashes.length > 0);
        const vcs = reqs.filter((r) => r.hashes.length === 0);
        const { index, extra } = requirementIndexes(hashed);
        // Both files name the index: a git dependency's build backend (setuptools\u2026) comes from it too.
        const indexLines = [`--index-url ${index}`, ...extra.map((u) => `--extra-index-url ${u}`)];
        const head = (what) => [
            `# Generated by fast-build for variant ${variant}, platform ${formatPlatform(p.platform)}: ${what}.`,
            '# Markers are already evaluated; local packages ship with the source, not here.'
        ];
        files.push({
            name: requirementsName(p.platform),
            text: [
                ...head('exact pins with the hashes of the lock (pip install --no-deps --require-hashes)'),
                ...indexLines,
                ...requirementLines(hashed)
            ].join('\n') + '\n'
        });
        files.push({
            name: vcsRequirementsName(p.platform),
            text: [
                ...head('git dependencies at their locked commits (pip cannot hash a checkout)'),
                ...(vcs.length ? indexLines : []),
                ...requirementLines(vcs)
            ].join('\n') + '\n'
        });
    }
    return files;
}
const pinOptions = (refuse) => ({
    refuse,
    git: 'allow',
    why: { git: '', file: 'a local archive is not in the build context (the source never is)' }
});
/**
 * The index the requirements files install from (the lock's, else PyPI), for the first platform:
 * where a pip wheel is fetched when the base image's Python has none. Call after contextFiles,
 * which refuses what cannot be pinned.
 */
function lockIndexUrl(platforms) {
    const p = platforms[0];
    if (!p)
        return PYPI_SIMPLE;
    const reqs = pinnedRequirements(p.closure.installed, p.target, pinOptions((pkg) => {
        throw new DockerfileError(`${pkg.name} cannot be pinned`);
    }));
    return requirementIndexes(reqs.filter((r) => r.hashes.length > 0)).index;
}
/**
 * The newest pip wheel of an index listing that runs on `python` ("3.12.0"): a final release, not
 * yanked, with a sha256 to check the download against, whose Requires-Python admits `python`.
 * null when there is none.
 */
function newestPipWheel(files, python) {
    let best = null;
    for (const f of files) {
        const m = /^pip-([^-]+)-(?:py3|py2\.py3)-none-any\.whl$/i.exec(f.filename);
        const version = m ? parseVersion(m[1]) : null;
        if (!version || isPrerelease(version) || f.yanked)
            continue;
        if (!/^[0-9a-f]{64}$/i.test(f.hashes['sha256'] ?? ''))
            continue;
        // An unparsable Requires-Python is taken as a no: a pip that cannot start fails the build late.
        if (f.requiresPython && specifierSetContains(f.requiresPython, python) !== true)
            continue;
        if (!best || compareVersions(version, best.version) > 0)
            best = { file: f, version };
    }
    return best?.file ?? null;
}
/**
 * Whether an engine's output says the docker CLI has no buildx plugin: `docker buildx \u2026` is then
 * an unknown command, or plain `docker build` refuses buildx's flags.
 */
function saysBuildxMissing(lines) {
    return lines.some((l) => /unknown command: docker buildx|'buildx' is not a docker command|unknown flag: --platform/.test(l));
}
/** What the Dockerfile is told (--build-arg): the user's own, then fast-build's. */
function buildArgsFor(args) {
    const ours = [
        ['FAST_BUILD_VARIANT', args.variant],
        ['FAST_BUILD_BASE', args.base]
    ];
    if (args.python)
        ours.push(['FAST_BUILD_PYTHON', args.python]);
    // One platform: its requirements file by name (a multi-platform build picks by TARGETOS/ARCH).
    if (args.platforms.length === 1)
        ours.push(['FAST_BUILD_REQUIREMENTS', requirementsName(args.platforms[0])]);
    const user = Object.entries(args.settings.buildArgs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return [...user.filter(([k]) => !ours.some(([o]) => o === k)), ...ours];
}
/** The command lines to run, in order (docker: one, with --push; buildah: build, then push). */
function engineCommands(r) {
    const common = [
        '--file',
        r.file,
        ...(r.settings.target ? ['--target', r.settings.target] : []),
        '--platform',
        r.platforms.map(formatPlatform).join(','),
        ...r.buildArgs.flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
    ];
    const multi = r.platforms.length > 1;
    if (engineOf(r.settings.command) === 'docker') {
        const scope = `fast-build-${r.variant}`;
        return [
            [
                ...r.settings.command,
                ...common,
                '--tag',
                r.tag,
                ...(r.githubCache
                    ? ['--cache-from', `type=gha,scope=${scope}`, '--cache-to', `type=gha,mode=max,scope=${scope}`]
                    : []),
                // A plain image manifest (or index), as the fast path expects: no attestation manifests.
                '--provenance=false',
                '--sbom=false',
                '--push',
                r.context
            ]
        ];
    }
    const tls = r.insecure ? ['--tls-verify=false'] : [];
    const program = r.settings.command[0];
    return [
        // Several platforms: buildah collects the images in a manifest list named by the tag.
        [...r.settings.command, ...tls, ...common, multi ? '--manifest' : '--tag', r.tag, r.context],
        multi
            ? [program, 'manifest', 'push', ...tls, '--all', r.tag, `docker://${r.tag}`]
            : [program, 'push', ...tls, r.tag, `docker://${r.tag}`]
    ];
}

// The errors of an HTTP request, for every caller (registry, token services, package indexes,
// wheel downloads): which request failed (`what`: method and URL, with userinfo and query taken
// out, so no secret reaches a message), at which host, and with which status when there was an
// answer. Callers turn them into their own errors (RegistryError, IndexError, FetchError) that say
// what to do; the fields let them decide without parsing messages.
/** A request failed, and asking again will not help (a 404, a host that does not resolve, a redirect loop). */
class HttpError extends FastBuildError {
    what;
    host;
    status;
    /** Whether running again later may succeed; true only for TransientHttpError. */
    temporary = false;
    constructor(message, info = {}, hint) {
        super(message, {}, hint);
        this.what = info.what ?? null;
        this.host = info.host ?? null;
        this.status = info.status ?? null;
    }
}
/** The host name does not resolve: a typo, or no DNS for it from here. Not retried. */
class UnknownHostError extends HttpError {
}
/**
 * A failure worth another attempt (src/net/retry.ts decides which): a dropped connection, a
 * request past its deadline (src/net/deadline.ts), a 408/429/5xx.
 */
class TransientHttpError extends HttpError {
    retryAfterMs;
    kind;
    temporary = true;
    constructor(message, 
    /** The wait the server asked for (Retry-After), in milliseconds. */
    retryAfterMs = null, kind = 'other', 
    /** `host[:port]` that failed, when known. */
    host = null, info = {}) {
        super(message, { ...info, host });
        this.retryAfterMs = retryAfterMs;
        this.kind = kind;
    }
}
/** `host[:port]` of a URL, or null when it is not one. */
function hostOf$1(url) {
    try {
        return new URL(url).host;
    }
    catch {
        return null;
    }
}

// One retry rule for every request fast-build makes (registries, token services, package indexes,
// wheel downloads): what is worth another attempt, how long to wait before it, and when to stop.
//
// Worth retrying: dropped connections (the codes below), a request past its deadline (see
// deadline.ts), and the statuses 408, 429 and 5xx except 501/505, which do not go away by asking
// again. Everything else (auth, not found, bad requests) fails at once. Waits grow exponentially
// with jitter (so parallel clients do not retry in step), or follow the server's Retry-After.
// Two limits stop an operation: a number of attempts, and a time budget for the whole operation
// (default 120 s), because attempts alone multiply by the per-request deadline: six attempts at a
// registry that accepts connections and never answers once cost six minutes per variant.
// ---------------------------------------------------------------------------------------------
// Bounds, and where they come from.
const REQUEST_TIMEOUT_ENV = 'FAST_BUILD_REQUEST_TIMEOUT_S';
const RETRY_BUDGET_ENV = 'FAST_BUILD_RETRY_BUDGET_S';
const DEFAULT_REQUEST_TIMEOUT_S = 30;
const DEFAULT_RETRY_BUDGET_S = 120;
/** What to tell a user who wants other bounds (used in hints). */
const BOUNDS_HINT = `the bounds are ${REQUEST_TIMEOUT_ENV} (per request, default ${DEFAULT_REQUEST_TIMEOUT_S}) and ${RETRY_BUDGET_ENV} (per operation, default ${DEFAULT_RETRY_BUDGET_S}), or the action inputs request-timeout and retry-budget`;
/**
 * Seconds as a user writes them (`30`, `2.5`): a positive number of at most a day. `where` names
 * the variable or input in the error.
 */
function parseSeconds(text, where, keyPath = where) {
    const t = text.trim();
    const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(n) || n <= 0 || n > 86_400) {
        throw new ConfigError(`${where}: ${JSON.stringify(text)} is not a number of seconds`, { keyPath }, 'write a number of seconds greater than 0 (and at most 86400), e.g. 30');
    }
    return n;
}
/**
 * The bounds in effect: FAST_BUILD_REQUEST_TIMEOUT_S and FAST_BUILD_RETRY_BUDGET_S when set (the
 * action sets them from its inputs), else 30 s and 120 s. Read when a client or operation starts,
 * so a variable set before the build applies to it.
 */
function netLimits(env = process.env) {
    const read = (name, dflt) => {
        const v = env[name];
        return v === undefined || v.trim() === '' ? dflt : parseSeconds(v, name);
    };
    return {
        requestTimeoutMs: read(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT_S) * 1000,
        retryBudgetMs: read(RETRY_BUDGET_ENV, DEFAULT_RETRY_BUDGET_S) * 1000
    };
}
// ---------------------------------------------------------------------------------------------
// What is worth retrying.
/**
 * Error codes of a connection that failed or dropped on the way: the one list for every request
 * (the registry client and the wheel fetcher each had one; this is their union). Not ENOTFOUND: a
 * name that does not resolve is a typo far more often than a DNS hiccup (EAI_AGAIN is the hiccup).
 */
const RETRYABLE_CODES = new Set([
    // The peer (or a proxy, or a load balancer recycling its connections) closed the connection.
    'ECONNRESET',
    // We wrote to a connection the peer had already closed (a kept-alive socket it timed out).
    'EPIPE',
    // The operating system gave up on the connection (no answer to SYN or to retransmissions).
    'ETIMEDOUT',
    // The connection was aborted locally, mid-request (a socket torn down under us).
    'ECONNABORTED',
    // Nothing listens yet: a registry or index restarting, a service behind a load balancer rolling.
    'ECONNREFUSED',
    // No route for now: a network that is coming up, a VPN reconnecting, a flapping link.
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENETDOWN',
    // The resolver could not answer for now (a temporary DNS failure, unlike ENOTFOUND).
    'EAI_AGAIN',
    // undici's socket error (fetch-based code paths in dependencies): the connection failed.
    'UND_ERR_SOCKET',
    // A response stream ended before its end (a body cut short by a dropped connection).
    'ERR_STREAM_PREMATURE_CLOSE'
]);
// Node's own words for a connection that ended mid-request, where it gives no code.
const DROPPED_MESSAGE = /socket hang up|aborted|premature/i;
/** 408, 429 and 5xx; not 501 (Not Implemented) or 505 (HTTP Version Not Supported). */
function isRetryableStatus(status) {
    return (status === 408 || status === 429 || (status >= 500 && status < 600 && status !== 501 && status !== 505));
}
/**
 * The rule, for a status or anything thrown: true for 408/429/5xx, for TransientHttpError, and for
 * errors of a connection that failed on the way (RETRYABLE_CODES, "socket hang up").
 */
function isRetryable(x) {
    if (typeof x === 'number')
        return isRetryableStatus(x);
    if (x instanceof TransientHttpError)
        return true;
    // Not `instanceof Error`: errors of Node's own modules may come from another realm (a VM
    // context, as under jest), where that test fails.
    if (x instanceof FastBuildError || typeof x !== 'object' || x === null)
        return false;
    const { code, message } = x;
    return ((typeof code === 'string' && RETRYABLE_CODES.has(code)) ||
        (typeof message === 'string' && DROPPED_MESSAGE.test(message)));
}
/**
 * A network error of `method url` as a TransientHttpError when the rule says it is worth retrying,
 * else null (the caller decides: ENOTFOUND, for one, means a wrong host name).
 */
function transientFromNetworkError(e, method, url) {
    if (e instanceof TransientHttpError)
        return e;
    if (!isRetryable(e))
        return null;
    const err = e;
    return new TransientHttpError(`${method} ${redactUrl(url)}: connection dropped (${err.code ?? err.message})`, null, 'dropped', hostOf$1(url), { what: `${method} ${redactUrl(url)}` });
}
/** A retryable status as a TransientHttpError (`detail` is the server's error text, if any). */
function transientFromStatus(method, url, status, retryAfter, detail = '') {
    return new TransientHttpError(`${method} ${redactUrl(url)}: ${status}${detail}`, parseRetryAfter(retryAfter), 'status', hostOf$1(url), { what: `${method} ${redactUrl(url)}`, status });
}
/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value, now = Date.now()) {
    if (!value)
        return null;
    const seconds = Number(value.trim());
    if (Number.isFinite(seconds))
        return Math.max(0, seconds * 1000);
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : Math.max(0, date - now);
}
const DEFAULT_RETRY = { attempts: 6, baseDelayMs: 250, maxDelayMs: 20_000 };
/**
 * The wait before attempt `attempt + 1`: the server's Retry-After when it gave one, else
 * exponential backoff with jitter (half to all of base\u00b72^(attempt-1)); at most maxDelayMs.
 */
function backoffDelay(attempt, policy, retryAfterMs = null, random = Math.random) {
    const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    return Math.min(policy.maxDelayMs, retryAfterMs ?? backoff * (0.5 + random() / 2));
}
/** An operation failed on every attempt it was allowed: the last failure, and how long it tried. */
class RetriesExhaustedError extends FastBuildError {
    last;
    attempts;
    elapsedMs;
    budgetMs;
    temporary = true;
    constructor(last, attempts, elapsedMs, budgetMs) {
        super(`${last.message} (${attempts} attempt${attempts === 1 ? '' : 's'} in ${seconds(elapsedMs)} s; budget ${seconds(budgetMs)} s)`, {}, giveUpHint(last));
        this.last = last;
        this.attempts = attempts;
        this.elapsedMs = elapsedMs;
        this.budgetMs = budgetMs;
    }
}
function giveUpHint(last) {
    const who = last.host ?? 'the server';
    const what = last.kind === 'timeout'
        ? `${who} accepts connections but does not answer in time: check it (and any proxy or firewall in between)`
        : last.kind === 'slow'
            ? `${who} answers too slowly: check it and the network to it`
            : last.kind === 'dropped'
                ? `connections to ${who} keep failing: check that it is up and reachable`
                : `${who} keeps failing`;
    return `${what}, then run again; ${BOUNDS_HINT}`;
}
/** `12`, `2.5`: seconds for messages (one decimal below 10 s). */
function seconds(ms) {
    const s = ms / 1000;
    return s < 10 ? String(Math.round(s * 10) / 10) : String(Math.round(s));
}
const REAL_CLOCK = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms))
};
/**
 * Run `op`, retrying TransientHttpError after backoffDelay, while attempts are left and the next
 * attempt would start within the budget; then RetriesExhaustedError (the last failure, the
 * attempts, the time spent). Other errors pass through at once. `onRetry` is told of each wait.
 * One attempt is bounded by the requests' own deadlines, so an operation ends by budget + one
 * attempt at worst.
 */
async function withRetry(op, policy = DEFAULT_RETRY, onRetry, clock = REAL_CLOCK) {
    const budget = policy.budgetMs ?? netLimits().retryBudgetMs;
    const started = clock.now();
    for (let attempt = 1;; attempt++) {
        try {
            return await op(attempt);
        }
        catch (e) {
            if (!(e instanceof TransientHttpError))
                throw e;
            const elapsed = clock.now() - started;
            const delay = backoffDelay(attempt, policy, e.retryAfterMs);
            if (attempt >= policy.attempts || elapsed + delay >= budget)
                throw new RetriesExhaustedError(e, attempt, elapsed, budget);
            onRetry?.(e, delay, attempt);
            await clock.sleep(delay);
        }
    }
}

/** Below this, past the request timeout, a transfer counts as stuck (a few KB/s: a trickle). */
const DEFAULT_MIN_BYTES_PER_SECOND = 16 * 1024;
/**
 * Watch `req` and destroy it with a TransientHttpError when it passes its deadline (see above). The
 * error reaches the request's 'error' listeners, as any network failure does; `onExpire` is told
 * first (for requests whose 'error' is already past).
 */
function watchDeadline(req, o, onExpire) {
    const minRate = o.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
    const tick = Math.max(20, Math.min(1000, o.timeoutMs / 8));
    let socket = null;
    let base = 0;
    let moved = 0;
    let waited = 0;
    let sinceProgress = 0;
    let last = Date.now();
    let stopped = false;
    let answered = false;
    req.once('response', () => (answered = true));
    const counted = (s) => s.bytesRead + Math.max(0, s.bytesWritten - s.writableLength);
    req.on('socket', (s) => {
        socket = s;
        base = counted(s);
    });
    const what = `${o.method} ${pathOf(o.url)}`;
    const host = hostOf$1(o.url) ?? o.url;
    const timer = setInterval(() => {
        const now = Date.now();
        const dt = now - last;
        last = now;
        // Waiting for a free connection of the agent's pool is not the server's fault (the requests
        // ahead each have a deadline of their own); neither is a body the caller is still making.
        if (socket === null || o.idle?.()) {
            sinceProgress = 0;
            return;
        }
        waited += dt;
        const m = counted(socket) - base;
        if (m > moved) {
            moved = m;
            sinceProgress = 0;
        }
        else
            sinceProgress += dt;
        // Everything sent and no answer yet: whichever rule fires, what was waited for is the answer.
        const awaitingAnswer = !answered && req.writableFinished && socket.writableLength === 0;
        let e = null;
        const s = seconds(o.timeoutMs);
        if (sinceProgress >= o.timeoutMs || (awaitingAnswer && waited >= o.timeoutMs)) {
            e = socket.connecting
                ? new TransientHttpError(`${host}: no connection within ${s} s (${what})`, null, 'timeout', host)
                : !answered
                    ? new TransientHttpError(`${host}: no answer to ${what} within ${s} s`, null, 'timeout', host)
                    : new TransientHttpError(`${host}: the answer to ${what} stopped for ${s} s`, null, 'timeout', host);
        }
        else if (sinceProgress < o.timeoutMs - 2 * tick && waited > o.timeoutMs + (moved / minRate) * 1000) {
            // Still moving (else the rule above says "stopped" a tick or two later), but at a trickle.
            e = new TransientHttpError(`${host}: ${what} too slow (${moved} bytes in ${seconds(waited)} s; the floor past ${s} s is ${Math.round(minRate / 1024)} KiB/s)`, null, 'slow', host);
        }
        if (e) {
            stop();
            onExpire?.(e);
            req.destroy(e);
        }
    }, tick);
    timer.unref();
    function stop() {
        if (stopped)
            return;
        stopped = true;
        clearInterval(timer);
    }
    req.once('close', stop);
    return { stop };
}
/** The path and query (redacted) of a URL, for messages that name the host apart. */
function pathOf(url) {
    try {
        const u = new URL(url);
        return redactUrl(`${u.pathname}${u.search}`);
    }
    catch {
        return redactUrl(url);
    }
}

// The one HTTP client of fast-build: registries, their token services, package indexes and wheel
// downloads all go through it. What it gives every request:
//
//   - keep-alive connections, a pool per client (`maxSockets` at once per host);
//   - a deadline (src/net/deadline.ts): no progress for FAST_BUILD_REQUEST_TIMEOUT_S, or a trickle
//     past it, ends the request as a TransientHttpError;
//   - failures as the errors of src/net/errors.ts: a connection that dropped is a TransientHttpError
//     (src/net/retry.ts says which are worth retrying), a host that does not resolve an
//     UnknownHostError; messages show URLs without userinfo or query;
//   - redirects followed when asked (GET and HEAD), with the Authorization header asked for again at
//     each hop, so a credential goes only where the caller says it belongs.
//
// Three ways to send: `request` (the answer buffered, bounded), `download` (the answer streamed to a
// file while its sha256 is computed, with progress), and `stream` (a body written piece by piece,
// for a blob uploaded while it is produced). Statuses are answers, not errors: the caller decides,
// and `throwIfTransient` applies the one retry rule to them. Retrying itself is the caller's
// (withRetry in src/net/retry.ts), around whatever unit is worth starting over.
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
/**
 * Throw the TransientHttpError of a retryable status (408, 429, 5xx but 501/505), so the caller's
 * withRetry tries again; other answers pass. `detail` is the server's error text, if any: a
 * function when it costs something to find (a body parsed for every answer, most of them fine).
 */
function throwIfTransient(res, detail = '') {
    if (isRetryableStatus(res.status))
        throw transientFromStatus(res.method, res.url, res.status, res.headers['retry-after'], typeof detail === 'string' ? detail : detail());
}
function headersOf(res) {
    const h = {};
    for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined)
            h[k] = Array.isArray(v) ? v.join(', ') : v;
    return h;
}
/** An error of the network (or of Node) for `method url` as one of ours, or as it is. */
function asHttpError(e, method, url) {
    if (e instanceof FastBuildError)
        return e;
    if (e.code === 'ENOTFOUND') {
        const host = hostOf$1(url) ?? url;
        return new UnknownHostError(`cannot reach ${host}: no such host`, { what: `${method} ${redactUrl(url)}`, host }, 'check the host name, and the network and DNS from here');
    }
    return transientFromNetworkError(e, method, url) ?? e;
}
/** The URL of the next hop of a redirect, or null when `status` is not one to follow. */
function redirectTarget(method, url, status, headers, hops, follow) {
    const max = follow.maxRedirects ?? 0;
    const location = headers['location'];
    if (max === 0 || !REDIRECTS.has(status) || !location || (method !== 'GET' && method !== 'HEAD'))
        return null;
    const what = `${method} ${redactUrl(url)}`;
    const info = { what, host: hostOf$1(url), status };
    if (hops >= max)
        throw new HttpError(`${what}: redirected more than ${max} times`, info, 'the server redirects in a loop: check the URL');
    let next;
    try {
        next = new URL(location, url);
    }
    catch {
        throw new HttpError(`${what}: redirected to something that is not a URL`, info);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new HttpError(`${what}: redirected to ${redactUrl(next.href)}, which is not http(s)`, info, 'check the URL; a server may only redirect to http(s)');
    }
    return next.href;
}
class HttpClient {
    opts;
    agents;
    constructor(opts = {}) {
        this.opts = opts;
        const maxSockets = opts.maxSockets ?? 8;
        this.agents = {
            http: new http__namespace.Agent({ keepAlive: true, maxSockets }),
            https: new https__namespace.Agent({ keepAlive: true, maxSockets })
        };
    }
    close() {
        this.agents.http.destroy();
        this.agents.https.destroy();
    }
    /** The per-request deadline in effect (an option, else the environment's, read now). */
    get requestTimeoutMs() {
        return this.opts.requestTimeoutMs ?? this.opts.idleTimeoutMs ?? netLimits().requestTimeoutMs;
    }
    /** Start one request (no body written yet) under its deadline; a URL that is not http(s) is an HttpError. */
    open(o, idle) {
        const url = new URL(o.url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
            throw new HttpError(`${o.method} ${redactUrl(o.url)}: only http(s):// URLs`, {
                what: `${o.method} ${redactUrl(o.url)}`
            });
        // Credentials travel in headers the caller chose (Follow.authorize), never from userinfo.
        url.username = '';
        url.password = '';
        const secure = url.protocol === 'https:';
        const req = (secure ? https__namespace : http__namespace).request(url, {
            method: o.method,
            headers: o.headers,
            agent: secure ? this.agents.https : this.agents.http
        });
        let expired = null;
        const deadline = watchDeadline(req, {
            method: o.method,
            url: o.url,
            timeoutMs: o.timeoutMs ?? this.requestTimeoutMs,
            minBytesPerSecond: this.opts.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
            ...(idle ? { idle } : {})
        }, (e) => (expired = e));
        return { req, expired: () => expired, stop: () => deadline.stop() };
    }
    headers(extra, url, follow = {}) {
        const h = { 'user-agent': this.opts.userAgent ?? 'fast-build', ...extra };
        const auth = follow.authorize?.(url);
        if (auth)
            h['authorization'] = auth;
        return h;
    }
    /**
     * A request whose body is written piece by piece (chunked transfer encoding), for streaming a
     * blob while it is being produced. `end` finishes the body and waits for the answer. The deadline
     * runs only while the network is what is waited for (a write not yet flushed, or after `end`).
     */
    stream(o) {
        let failure = null;
        let ended = false;
        let draining = 0;
        const waiters = new Set();
        let resolveResponse;
        let rejectResponse;
        const response = new Promise((res, rej) => {
            resolveResponse = res;
            rejectResponse = rej;
        });
        response.catch(() => undefined);
        const { req, expired, stop } = this.open({ method: o.method, url: o.url, headers: this.headers(o.headers, o.url), timeoutMs: o.timeoutMs }, () => !ended && draining === 0);
        const fail = (e) => {
            if (failure)
                return;
            failure = expired() ?? asHttpError(e, o.method, o.url);
            stop();
            rejectResponse(failure);
            // A write waiting for 'drain' would wait for ever on a destroyed request.
            for (const w of waiters)
                w(failure);
            waiters.clear();
        };
        req.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                stop();
                resolveResponse({
                    method: o.method,
                    status: res.statusCode ?? 0,
                    headers: headersOf(res),
                    body: Buffer.concat(chunks),
                    url: o.url
                });
            });
            res.on('error', (e) => fail(e));
            res.on('aborted', () => fail(new Error('response aborted')));
        });
        req.on('error', (e) => fail(e));
        return {
            write: (chunk) => new Promise((resolve, reject) => {
                if (failure)
                    return reject(failure);
                if (req.write(chunk))
                    return resolve();
                draining++;
                const settle = (e) => {
                    draining--;
                    waiters.delete(onFail);
                    req.off('drain', onDrain);
                    if (e)
                        reject(e);
                    else
                        resolve();
                };
                const onFail = (e) => settle(e);
                const onDrain = () => settle(null);
                waiters.add(onFail);
                req.once('drain', onDrain);
            }),
            end: () => {
                if (failure)
                    return Promise.reject(failure);
                ended = true;
                req.end();
                return response;
            },
            abort: () => {
                stop();
                req.destroy();
            }
        };
    }
    /** One request, its answer buffered (up to `maxBody`); redirects followed as `o` asks. */
    async request(o) {
        let url = o.url;
        for (let hops = 0;; hops++) {
            const res = await this.requestOnce(o, url);
            const next = redirectTarget(o.method, url, res.status, res.headers, hops, o);
            if (next === null)
                return res;
            url = next;
        }
    }
    requestOnce(o, url) {
        const headers = this.headers(o.headers, url, o);
        let body = null;
        if (o.body !== undefined) {
            if (Buffer.isBuffer(o.body)) {
                body = o.body;
                headers['content-length'] = String(o.body.length);
            }
            else {
                const { file, start, end } = o.body;
                if (headers['content-length'] === undefined)
                    throw new Error('streamed bodies need a content-length');
                // Read in 1 MiB pieces: an upload of a big layer in fs's default 64 kB is sixteen times
                // the reads, writes and callbacks, all on the thread that also builds layers.
                body = node_fs.createReadStream(file, {
                    highWaterMark: 1024 * 1024,
                    ...(start !== undefined ? { start } : {}),
                    ...(end !== undefined ? { end } : {})
                });
            }
        }
        else if (o.method === 'PUT' || o.method === 'POST' || o.method === 'PATCH') {
            headers['content-length'] = '0';
        }
        const maxBody = o.maxBody ?? DEFAULT_MAX_BODY;
        const what = `${o.method} ${redactUrl(url)}`;
        return new Promise((resolve, reject) => {
            let settled = false;
            const { req, expired, stop } = this.open({ method: o.method, url, headers, timeoutMs: o.timeoutMs });
            const fail = (e) => {
                if (settled)
                    return;
                settled = true;
                stop();
                req.destroy();
                if (body !== null && !Buffer.isBuffer(body))
                    body.destroy();
                reject(e instanceof FastBuildError ? e : (expired() ?? asHttpError(e, o.method, url)));
            };
            req.on('response', (res) => {
                const chunks = [];
                let size = 0;
                res.on('data', (c) => {
                    size += c.length;
                    if (size > maxBody)
                        fail(new HttpError(`${what}: response larger than ${maxBody} bytes`, {
                            what,
                            host: hostOf$1(url),
                            status: res.statusCode ?? null
                        }));
                    else
                        chunks.push(c);
                });
                res.on('end', () => {
                    if (settled)
                        return;
                    settled = true;
                    stop();
                    resolve({
                        method: o.method,
                        status: res.statusCode ?? 0,
                        headers: headersOf(res),
                        body: Buffer.concat(chunks),
                        url
                    });
                });
                res.on('error', (e) => fail(e));
                res.on('aborted', () => fail(new Error('response aborted')));
            });
            req.on('error', (e) => fail(e));
            if (body === null)
                req.end();
            else if (Buffer.isBuffer(body))
                req.end(body);
            else {
                body.on('error', (e) => fail(e));
                body.pipe(req);
            }
        });
    }
    /**
     * GET a body straight to `file` (blobs and wheels can be gigabytes), hashing it on the way. An
     * answer other than 200 is returned with its (small) body and nothing written; a 200 cut short
     * (fewer bytes than its Content-Length) is a TransientHttpError.
     */
    async download(o, file) {
        let url = o.url;
        for (let hops = 0;; hops++) {
            const res = await this.downloadOnce(o, url, file);
            const next = redirectTarget('GET', url, res.status, res.headers, hops, o);
            if (next === null)
                return res;
            url = next;
        }
    }
    downloadOnce(o, url, file) {
        const what = `GET ${redactUrl(url)}`;
        return new Promise((resolve, reject) => {
            let settled = false;
            const { req, expired, stop } = this.open({
                method: 'GET',
                url,
                headers: this.headers(o.headers, url, o),
                timeoutMs: o.timeoutMs
            });
            const done = (r) => {
                if (settled)
                    return;
                settled = true;
                stop();
                resolve({ method: 'GET', url, ...r });
            };
            const fail = (e) => {
                if (settled)
                    return;
                settled = true;
                stop();
                req.destroy();
                reject(expired() ?? asHttpError(e, 'GET', url));
            };
            req.on('response', (res) => {
                const headers = headersOf(res);
                const status = res.statusCode ?? 0;
                if (status !== 200) {
                    const chunks = [];
                    res.on('data', (c) => chunks.length < 64 && chunks.push(c));
                    res.on('end', () => done({ status, headers, body: Buffer.concat(chunks), sha256: null, size: 0 }));
                    res.on('error', (e) => fail(e));
                    return;
                }
                const length = headers['content-length'];
                const total = length !== undefined && /^\d+$/.test(length) ? Number(length) : null;
                o.onBytes?.(0, total);
                hashIntoFile(res, file, o.onBytes, total).then((got) => {
                    const size = got.bytes;
                    if (!res.complete || (total !== null && size !== total)) {
                        fail(new TransientHttpError(`${what}: the connection ended after ${size}${total !== null ? ` of ${total}` : ''} bytes`, null, 'dropped', hostOf$1(url), { what, status }));
                    }
                    else
                        done({ status, headers, body: Buffer.alloc(0), sha256: got.sha256, size });
                }, (e) => fail(e));
            });
            req.on('error', (e) => fail(e));
            req.end();
        });
    }
}

// Where a JSON text stops being JSON, without quoting it. JSON.parse's messages quote the text
// around the error (`..."identitytoken": s3cret}"...`), which for a credentials file is the secret
// itself; this scanner finds the same position and says only what was expected there.
/**
 * The first syntax error of `text` as JSON (RFC 8259, as JSON.parse reads it), or null when it
 * parses. Linear, iterative (no recursion, so deep nesting cannot overflow the stack).
 */
function jsonSyntaxProblem(text) {
    let i = 0;
    const n = text.length;
    const at = (pos, reason) => {
        let line = 1;
        let lineStart = 0;
        for (let k = 0; k < pos && k < n; k++) {
            if (text.charCodeAt(k) === 10) {
                line++;
                lineStart = k + 1;
            }
        }
        // Columns in characters: a surrogate pair is one.
        let column = 1;
        for (let k = lineStart; k < pos && k < n; k++) {
            const c = text.charCodeAt(k);
            if (!(c >= 0xdc00 && c <= 0xdfff && k > lineStart))
                column++;
        }
        return { line, column, reason };
    };
    const ws = () => {
        while (i < n) {
            const c = text.charCodeAt(i);
            if (c === 32 || c === 9 || c === 10 || c === 13)
                i++;
            else
                break;
        }
    };
    const end = (what) => (i >= n ? at(n, `unexpected end of the file (expected ${what})`) : null);
    const string = () => {
        // text[i] is '"'
        i++;
        while (i < n) {
            const c = text.charCodeAt(i);
            if (c === 34) {
                i++;
                return null;
            }
            if (c < 0x20)
                return at(i, 'a control character (such as a line break) inside a string');
            if (c === 92) {
                const e = text[i + 1];
                if (e === undefined)
                    break;
                if ('"\\/bfnrt'.includes(e))
                    i += 2;
                else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)))
                    i += 6;
                else
                    return at(i, 'an invalid escape sequence in a string');
                continue;
            }
            i++;
        }
        return at(n, 'unexpected end of the file inside a string');
    };
    const number = () => {
        const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
        m.lastIndex = i;
        const hit = m.exec(text);
        if (!hit || hit[0] === '-' || hit[0] === '')
            return at(i, 'an invalid number');
        i += hit[0].length;
        return null;
    };
    const literal = () => {
        for (const word of ['true', 'false', 'null']) {
            if (text.startsWith(word, i)) {
                i += word.length;
                return null;
            }
        }
        return at(i, 'expected a value (a string, number, object, array, true, false or null)');
    };
    // Containers still open: '{' or '['; `expect` says what may come next.
    const stack = [];
    let expect = 'value';
    for (;;) {
        ws();
        if (expect === 'value' || expect === 'firstValue') {
            const eof = end('a value');
            if (eof)
                return eof;
            const c = text[i];
            if (expect === 'firstValue' && c === ']') {
                i++;
                stack.pop();
                expect = 'afterValue';
                continue;
            }
            if (c === '{' || c === '[') {
                i++;
                stack.push(c);
                expect = c === '{' ? 'firstKey' : 'firstValue';
                continue;
            }
            const problem = c === '"' ? string() : c === '-' || (c >= '0' && c <= '9') ? number() : literal();
            if (problem)
                return problem;
            expect = 'afterValue';
            continue;
        }
        if (expect === 'key' || expect === 'firstKey') {
            const eof = end('a key');
            if (eof)
                return eof;
            if (expect === 'firstKey' && text[i] === '}') {
                i++;
                stack.pop();
                expect = 'afterValue';
                continue;
            }
            if (text[i] !== '"')
                return at(i, 'expected a key in double quotes');
            const problem = string();
            if (problem)
                return problem;
            ws();
            const eof2 = end("':'");
            if (eof2)
                return eof2;
            if (text[i] !== ':')
                return at(i, "expected ':' after a key");
            i++;
            expect = 'value';
            continue;
        }
        // afterValue
        const top = stack[stack.length - 1];
        if (top === undefined) {
            return i < n ? at(i, 'unexpected text after the end of the JSON value') : null;
        }
        const eof = end(top === '{' ? "',' or '}'" : "',' or ']'");
        if (eof)
            return eof;
        const c = text[i];
        if (c === ',') {
            i++;
            expect = top === '{' ? 'key' : 'value';
        }
        else if ((top === '{' && c === '}') || (top === '[' && c === ']')) {
            i++;
            stack.pop();
        }
        else {
            return at(i, top === '{' ? "expected ',' or '}' after a value" : "expected ',' or ']' after a value");
        }
    }
}

// Where registry credentials come from: explicit inputs, or the Docker config file that
// `docker login` / docker/login-action write (auths, credsStore, credHelpers). A credential knows
// its source so errors can say which one was used, never what it is.
const ANONYMOUS = { kind: 'anonymous', source: 'no credentials' };
class CredentialError extends FastBuildError {
}
/** What a credential is, for messages: the user and where it came from; never the secret. */
function describeCredential(c) {
    switch (c.kind) {
        case 'anonymous':
            return 'no credentials (anonymous)';
        case 'basic':
            return `user ${JSON.stringify(c.username)} from ${c.source}`;
        case 'identity-token':
            return `an identity token from ${c.source}`;
    }
}
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
/** `https://ghcr.io/v1/` \u2192 `ghcr.io`; Docker Hub's aliases all become `docker.io`. */
function normalizeRegistryHost(key) {
    const host = key
        .replace(/^[a-z]+:\/\//i, '')
        .replace(/\/.*$/, '')
        .toLowerCase();
    return DOCKER_HUB_HOSTS.includes(host) ? 'docker.io' : host;
}
function dockerConfigPath(env = process.env) {
    return node_path.join(env['DOCKER_CONFIG'] ?? node_path.join(node_os.homedir(), '.docker'), 'config.json');
}
function readDockerConfig(path, display) {
    let text;
    try {
        text = node_fs.readFileSync(path, 'utf8');
    }
    catch {
        return null;
    }
    const fix = 'fix or remove the Docker config file (docker login rewrites it)';
    let data;
    try {
        data = JSON.parse(text);
    }
    catch {
        // JSON.parse's message quotes the text around the error, which here is a credential: say
        // where, never what.
        const p = jsonSyntaxProblem(text);
        throw new CredentialError(`${display} is not valid JSON${p ? `: ${p.reason}` : ''}`, { file: path, ...(p ? { line: p.line, column: p.column } : {}) }, fix);
    }
    return checkDockerConfig(data, path, display, fix);
}
/**
 * The parts of a Docker config we read, checked for their types (a number where a string belongs
 * would otherwise reach Buffer.from, whose message prints the value). Messages name keys only.
 */
function checkDockerConfig(data, path, display, fix) {
    const fail = (keyPath, what) => {
        throw new CredentialError(`${display}: ${keyPath} ${what}`, { file: path, keyPath }, fix);
    };
    const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(data))
        return fail('(top level)', 'is not a JSON object');
    const out = {};
    if (data['auths'] !== undefined && data['auths'] !== null) {
        if (!isObject(data['auths']))
            return fail('auths', 'is not an object');
        const auths = {};
        for (const [key, entry] of Object.entries(data['auths'])) {
            const at = `auths[${JSON.stringify(key)}]`;
            if (!isObject(entry))
                return fail(at, 'is not an object');
            const e = {};
            for (const field of ['auth', 'username', 'password', 'identitytoken']) {
                const v = entry[field];
                if (v === undefined || v === null)
                    continue;
                if (typeof v !== 'string')
                    return fail(`${at}.${field}`, 'is not a string');
                e[field] = v;
            }
            auths[key] = e;
        }
        out.auths = auths;
    }
    if (data['credsStore'] !== undefined && data['credsStore'] !== null) {
        if (typeof data['credsStore'] !== 'string')
            return fail('credsStore', 'is not a string');
        if (data['credsStore'] !== '')
            out.credsStore = data['credsStore'];
    }
    if (data['credHelpers'] !== undefined && data['credHelpers'] !== null) {
        if (!isObject(data['credHelpers']))
            return fail('credHelpers', 'is not an object');
        const helpers = {};
        for (const [key, helper] of Object.entries(data['credHelpers'])) {
            if (typeof helper !== 'string')
                return fail(`credHelpers[${JSON.stringify(key)}]`, 'is not a string');
            helpers[key] = helper;
        }
        out.credHelpers = helpers;
    }
    return out;
}
/** Runs `docker-credential-<helper> get` with the server URL on stdin. */
const runCredentialHelper = (helper, serverUrl) => new Promise((resolve, reject) => {
    const child = node_child_process.execFile(`docker-credential-${helper}`, ['get'], { timeout: 15_000 }, (err, stdout, stderr) => {
        if (err) {
            if (/not found|no credentials/i.test(`${stdout}${stderr}`))
                return resolve(null);
            const reason = err.code === 'ENOENT'
                ? 'it is not installed'
                : (stderr || err.message).trim().split('\n')[0];
            return reject(new CredentialError(`credential helper docker-credential-${helper} failed for ${serverUrl}: ${reason}`, {}, 'install the helper or log in again'));
        }
        try {
            const o = JSON.parse(stdout);
            resolve(o.Secret ? { Username: o.Username ?? '', Secret: o.Secret } : null);
        }
        catch {
            reject(new CredentialError(`credential helper docker-credential-${helper} printed something that is not JSON`));
        }
    });
    child.stdin?.end(serverUrl);
});
/**
 * The credential for a registry host from the Docker config: credHelpers[host], then credsStore,
 * then auths[host]. Anonymous when none applies.
 */
async function credentialFromDockerConfig(host, opts = {}) {
    const path = opts.path ?? dockerConfigPath();
    const display = path.replace(node_os.homedir(), '~');
    const config = readDockerConfig(path, display);
    if (!config)
        return ANONYMOUS;
    const want = normalizeRegistryHost(host);
    const serverUrl = want === 'docker.io' ? DOCKER_HUB_KEY : host;
    const runHelper = opts.runHelper ?? runCredentialHelper;
    const fromHelper = async (helper, where) => {
        const got = await runHelper(helper, serverUrl);
        if (!got)
            return null;
        const source = `docker-credential-${helper} (${where} in ${display})`;
        return got.Username === '<token>'
            ? { kind: 'identity-token', token: got.Secret, source }
            : { kind: 'basic', username: got.Username, password: got.Secret, source };
    };
    for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
        if (normalizeRegistryHost(key) === want) {
            const c = await fromHelper(helper, `credHelpers[${JSON.stringify(key)}]`);
            if (c)
                return c;
        }
    }
    if (config.credsStore) {
        const c = await fromHelper(config.credsStore, 'credsStore');
        if (c)
            return c;
    }
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
        if (normalizeRegistryHost(key) !== want)
            continue;
        const source = `${display} (auths[${JSON.stringify(key)}])`;
        if (entry.identitytoken)
            return { kind: 'identity-token', token: entry.identitytoken, source };
        if (entry.auth) {
            const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
            const colon = decoded.indexOf(':');
            if (colon < 0)
                throw new CredentialError(`${source}: the auth value is not base64 of user:password`, { file: path }, `run docker login ${host} again`);
            return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
        }
        if (entry.username && entry.password)
            return { kind: 'basic', username: entry.username, password: entry.password, source };
    }
    return ANONYMOUS;
}

// Registry authentication by challenge: a request answered 401 tells how to authenticate
// (`Basic realm=\u2026`, or `Bearer realm=\u2026,service=\u2026,scope=\u2026` as GHCR, Docker Hub and ECR do).
// Bearer tokens are fetched from the realm for the scopes an operation needs and kept per scope.
/** Parse a WWW-Authenticate header (one challenge; quoted values may contain commas). */
function parseChallenge(header) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
    if (!m)
        return null;
    const params = {};
    const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
    for (const p of m[2].matchAll(re))
        params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
    return { scheme: m[1].toLowerCase(), params };
}
/** Authentication refused: says which credential was used and what was asked for. */
class RegistryAuthError extends FastBuildError {
}
function scopeFor(repository, access) {
    return `repository:${repository}:${access === 'push' ? 'pull,push' : 'pull'}`;
}
/**
 * Holds what a registry asked for and the tokens obtained; `authorize` gives the Authorization
 * header for a set of scopes, fetching a token when needed.
 */
class RegistryAuth {
    http;
    host;
    credential;
    hints;
    challenge = null;
    tokens = new Map();
    constructor(http, host, credential, hints) {
        this.http = http;
        this.host = host;
        this.credential = credential;
        this.hints = hints;
    }
    get known() {
        return this.challenge !== null;
    }
    /** `basic`, `bearer`, or null before the registry has asked. */
    get scheme() {
        return this.challenge?.scheme ?? null;
    }
    /** What to do when this credential is refused. */
    get fix() {
        return this.hints.fix;
    }
    /** Remember the challenge of a 401 answer. */
    learn(res) {
        const header = res.headers['www-authenticate'];
        const c = header ? parseChallenge(header) : null;
        if (!c) {
            throw new RegistryAuthError(`${this.host} answered 401 without an authentication challenge (${redactUrl(res.url)})`, {}, 'check that this is an OCI/Docker registry');
        }
        this.challenge = c;
    }
    /** Drop cached tokens (after a 401 with a token: it expired or lacks a scope). */
    forget() {
        this.tokens.clear();
    }
    async header(scopes) {
        const c = this.challenge;
        if (!c)
            return null;
        if (c.scheme === 'basic') {
            if (this.credential.kind !== 'basic') {
                throw new RegistryAuthError(`${this.host} requires a user name and password (Basic auth), and ${describeCredential(this.credential)} was found`, {}, this.hints.fix);
            }
            return `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString('base64')}`;
        }
        if (c.scheme !== 'bearer') {
            throw new RegistryAuthError(`${this.host} asks for ${c.scheme} authentication, which fast-build does not speak`, {}, 'use a registry with Basic or Bearer token auth');
        }
        const key = [...scopes].sort().join(' ');
        // A token for more (pull,push) also serves less (pull).
        for (const [k, t] of this.tokens) {
            if (t.expires > Date.now() && (k === key || covers(k, scopes)))
                return `Bearer ${t.value}`;
        }
        const token = await this.fetchToken(c, scopes);
        this.tokens.set(key, token);
        return `Bearer ${token.value}`;
    }
    async fetchToken(c, scopes) {
        const realm = c.params['realm'];
        if (!realm)
            throw new RegistryAuthError(`${this.host}: Bearer challenge without a realm`);
        const service = c.params['service'];
        const cred = this.credential;
        let res;
        if (cred.kind === 'identity-token') {
            const form = new URLSearchParams({
                grant_type: 'refresh_token',
                refresh_token: cred.token,
                client_id: 'fast-build'
            });
            if (service)
                form.set('service', service);
            if (scopes.length)
                form.set('scope', scopes.join(' '));
            res = await this.http.request({
                method: 'POST',
                url: realm,
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: Buffer.from(form.toString())
            });
        }
        else {
            const url = new URL(realm);
            if (service)
                url.searchParams.set('service', service);
            for (const s of scopes)
                url.searchParams.append('scope', s);
            const headers = {};
            if (cred.kind === 'basic') {
                url.searchParams.set('account', cred.username);
                headers['authorization'] =
                    `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
            }
            res = await this.http.request({ method: 'GET', url: url.toString(), headers });
        }
        // A token service that is down, slow or silent is retried (with the operation that needed
        // the token) under the same rule and budget as the registry itself; its host is in the message.
        throwIfTransient(res, () => ` from the token service${errorText(res)}`);
        if (res.status !== 200) {
            throw new RegistryAuthError(`${this.host}: the token service refused ${describeCredential(cred)} for ${scopes.join(' ') || 'no scope'} (${res.status}${errorText(res)})`, {}, this.hints.fix);
        }
        let body;
        try {
            body = JSON.parse(res.body.toString('utf8'));
        }
        catch {
            throw new RegistryAuthError(`${this.host}: the token service answered something that is not JSON`);
        }
        const value = body.token ?? body.access_token;
        if (!value)
            throw new RegistryAuthError(`${this.host}: the token service answered without a token`);
        // Renew a little early; 60 s is the spec's default lifetime.
        const seconds = Math.max(10, (body.expires_in ?? 60) - 5);
        return { value, expires: Date.now() + seconds * 1000 };
    }
}
function covers(have, want) {
    const granted = new Map();
    for (const s of have.split(' ')) {
        const [type, name, actions] = s.split(':');
        if (type && name && actions)
            granted.set(`${type}:${name}`, new Set(actions.split(',')));
    }
    return want.every((s) => {
        const [type, name, actions] = s.split(':');
        const g = granted.get(`${type}:${name}`);
        return g !== undefined && (actions ?? '').split(',').every((a) => g.has(a));
    });
}
/** The error text a registry or token service put in its body (distribution's JSON errors). */
function errorText(res) {
    const text = res.body.toString('utf8').slice(0, 2000);
    try {
        const o = JSON.parse(text);
        const parts = (o.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).filter(Boolean);
        if (parts.length)
            return `: ${parts.join('; ')}`;
        if (o.details)
            return `: ${o.details}`;
        if (o.error)
            return `: ${o.error}`;
    }
    catch {
        // not JSON
    }
    const line = text.trim().split('\n')[0];
    return line ? `: ${line.slice(0, 200)}` : '';
}

// The registry's own error: what the client (and the OCI layout store) throw when a registry says
// no or cannot be reached. The HTTP failures under it are src/net/errors.ts's.
/** A registry said no, or could not be reached. `temporary` failures may go away by running again. */
class RegistryError extends FastBuildError {
    temporary;
    constructor(message, location = {}, hint, temporary = false) {
        super(message, location, hint);
        this.temporary = temporary;
    }
}

/** Tags as registries accept them (distribution's reference grammar). */
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
function isDigestRef(ref) {
    return /^sha256:[a-f0-9]{64}$/.test(ref);
}

// A client for the OCI distribution spec, for one repository: HEAD/GET/PUT of blobs and
// manifests, cross-repository mounts, monolithic and chunked uploads, tag listing. Every
// operation retries transient failures as a whole (an upload restarts with a new session) under
// the tool's one rule (src/net/retry.ts): each request has a deadline, each operation a time
// budget, and an operation that runs out of either fails with a temporary RegistryError naming
// the host and what it waited for. Auth failures say which credential was used and what was
// asked for.
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/**
 * An image reference (`host/repository[:tag][@digest]`) that does not parse. Not named
 * `ReferenceError`, which is JavaScript's own and would be shadowed wherever this is imported.
 */
class ImageReferenceError extends FastBuildError {
}
/**
 * `ghcr.io/acme/app`, `127.0.0.1:5000/demo`, `python` (Docker Hub, library/python). A tag or
 * digest suffix is returned apart.
 */
function parseImageReference(text, where = 'image') {
    let rest = text.trim();
    let digest = null;
    const at = rest.indexOf('@');
    if (at >= 0) {
        digest = parseDigest(rest.slice(at + 1), `${where} ${JSON.stringify(text)}`);
        rest = rest.slice(0, at);
    }
    let tag = null;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG_PATTERN.test(tag))
            throw new ImageReferenceError(`${where}: ${JSON.stringify(text)} has an invalid tag ${JSON.stringify(tag)}`);
    }
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    let host;
    let repository;
    if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
        host = first;
        repository = rest.slice(slash + 1);
    }
    else {
        host = 'docker.io';
        repository = slash < 0 ? `library/${rest}` : rest;
    }
    if (host === 'docker.io' || host === 'index.docker.io')
        host = 'registry-1.docker.io';
    if (!REPOSITORY.test(repository)) {
        throw new ImageReferenceError(`${where}: ${JSON.stringify(text)} is not an image reference`, {}, 'write it as host/repository, e.g. ghcr.io/acme/app or 127.0.0.1:5000/demo');
    }
    return { host, repository, tag, digest };
}
const DEFAULT_CHUNK = 64 * 1024 * 1024;
/** At most this many platform images of an index are read by recallImage. */
const RECALLED_PLATFORMS = 16;
function isLoopback(host) {
    const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
class RegistryClient {
    ref;
    opts;
    name;
    base;
    http;
    ownsHttp;
    auth;
    retry;
    chunkSize;
    /**
     * Blobs the repository is known to hold: found by HEAD, put, or named by a manifest read from
     * it. Asked about again, they need no round trip.
     */
    present = new Set();
    /** Earlier images being read for their blobs (recallImage): blobExists waits for them. */
    recalling = null;
    /** Upload sessions opened ahead (openUploads), taken by fresh blobs first come. */
    ahead = [];
    constructor(ref, opts = {}) {
        this.ref = ref;
        this.opts = opts;
        this.name = `${ref.host}/${ref.repository}`;
        const insecure = opts.insecure ?? isLoopback(ref.host);
        this.base = `${insecure ? 'http' : 'https'}://${ref.host}`;
        this.ownsHttp = !opts.http;
        this.http =
            opts.http ??
                new HttpClient(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {});
        this.retry = opts.retry ?? DEFAULT_RETRY;
        this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
        const credential = opts.credential ?? ANONYMOUS;
        this.auth = new RegistryAuth(this.http, ref.host, credential, {
            fix: credential.kind === 'anonymous'
                ? `log in first (docker login ${ref.host}, or docker/login-action), or give registry-username and registry-password`
                : `check the credentials for ${ref.host} (registry-username / registry-password, or docker login ${ref.host})`
        });
    }
    /** Another repository of the same registry, sharing connections and credentials. */
    sibling(repository) {
        return new RegistryClient({ host: this.ref.host, repository }, { ...this.opts, http: this.http });
    }
    close() {
        if (this.ownsHttp)
            this.http.close();
    }
    url(path) {
        return `${this.base}/v2/${this.ref.repository}/${path}`;
    }
    /**
     * One request with auth: a 401 is answered by authenticating (once) and trying again.
     * Retryable statuses become TransientHttpError; the caller decides about retrying.
     */
    async send(method, url, o) {
        const scopes = [scopeFor(this.ref.repository, o.access), ...(o.scopes ?? [])];
        for (let attempt = 0; attempt < 2; attempt++) {
            const headers = { ...o.headers };
            const authorization = await this.auth.header(scopes);
            if (authorization)
                headers['authorization'] = authorization;
            const res = await this.http.request({
                method,
                url,
                headers,
                ...(o.body ? { body: o.body() } : {}),
                ...(o.maxBody ? { maxBody: o.maxBody } : {})
            });
            if (res.status === 401 && attempt === 0) {
                this.auth.learn(res);
                this.auth.forget();
                continue;
            }
            if (res.status === 401 || res.status === 403) {
                // With Basic auth a second 401 means the user or password is wrong; otherwise the
                // credential was accepted but lacks the access asked for.
                const wrongCredential = res.status === 401 && this.auth.scheme === 'basic';
                throw new RegistryAuthError(`${this.ref.host} refused ${method} on ${this.ref.repository} (${res.status}${errorText(res)}) with ${describeCredential(this.auth.credential)}; asked for ${scopes.join(' ')}`, {}, wrongCredential
                    ? this.auth.fix
                    : o.access === 'push'
                        ? `the credential needs push access to ${this.name} (for GHCR: a token with packages: write)`
                        : `the credential needs pull access to ${this.name}`);
            }
            throwIfTransient(res, () => errorText(res));
            return res;
        }
        throw new Error('unreachable');
    }
    unexpected(what, res) {
        return new RegistryError(`${this.name}: ${what} failed (${res.status}${errorText(res)})`);
    }
    /**
     * Run an operation under the retry rule. When it gives up, the error is a temporary
     * RegistryError: the last failure, how many attempts in how long, the budget, and what to do.
     */
    async retrying(op) {
        try {
            return await withRetry(op, this.retry, (e, delay) => this.opts.onRetry?.(e.message, delay));
        }
        catch (e) {
            if (e instanceof RetriesExhaustedError)
                throw new RegistryError(e.message, {}, e.hint, true);
            // The registry's name is what the user wrote: say where.
            if (e instanceof UnknownHostError)
                throw new UnknownHostError(e.message, e, 'check the registry name (image input or [tool.fast-build] image)');
            throw e;
        }
    }
    /**
     * Whether the registry answers the referrers API (OCI distribution 1.1, `GET /v2/<name>/referrers/
     * <digest>`) for `subject`: 200 with an image index. One without it answers 404 (distribution 2.8:
     * "404 page not found"); any other answer counts as no, and the caller tags the artifact instead,
     * which every registry finds.
     */
    supportsReferrers(subject) {
        return this.retrying(async () => {
            const res = await this.send('GET', this.url(`referrers/${subject}`), {
                access: 'pull',
                headers: { accept: OCI_INDEX },
                maxBody: 16 * 1024 * 1024
            });
            const type = (res.headers['content-type'] ?? '').split(';')[0].trim();
            return res.status === 200 && type === OCI_INDEX;
        });
    }
    async ping() {
        await this.retrying(async () => {
            const res = await this.send('GET', `${this.base}/v2/`, { access: 'pull' });
            if (res.status !== 200)
                throw this.unexpected('GET /v2/', res);
        });
    }
    async blobExists(digest) {
        if (this.present.has(digest))
            return true;
        if (this.recalling) {
            await this.recalling;
            if (this.present.has(digest))
                return true;
        }
        const found = await this.retrying(async () => {
            const res = await this.send('HEAD', this.url(`blobs/${digest}`), { access: 'pull' });
            if (res.status === 200)
                return true;
            if (res.status === 404)
                return false;
            throw this.unexpected(`HEAD blob ${digest}`, res);
        });
        if (found)
            this.present.add(digest);
        return found;
    }
    recallImage(ref) {
        // It only ever spares HEADs: an image that cannot be read is no error.
        const read = this.recallBlobs(ref).catch(() => undefined);
        this.recalling = this.recalling ? Promise.all([this.recalling, read]).then(() => undefined) : read;
    }
    /** Read `ref` and, for an index, the manifests it lists (getManifest learns their blobs). */
    async recallBlobs(ref) {
        const top = await this.getManifest(ref);
        if (!top)
            return;
        const parsed = parseManifest(top.bytes, top.mediaType, ref);
        if (parsed.kind !== 'index')
            return;
        // Platform images only (attestations are "unknown/unknown"), and a bounded number of them.
        const images = parsed.index.manifests
            .filter((m) => m.platform?.os !== 'unknown')
            .slice(0, RECALLED_PLATFORMS);
        await Promise.all(images.map((m) => this.getManifest(m.digest)));
    }
    /** What a manifest this repository stores names is there (registries keep a manifest's blobs). */
    learn(bytes, mediaType) {
        let parsed;
        try {
            parsed = parseManifest(bytes, mediaType, 'manifest');
        }
        catch {
            return;
        }
        if (parsed.kind !== 'manifest')
            return;
        const { config, layers } = parsed.manifest;
        this.present.add(config.digest);
        // A foreign layer (one with `urls`) is fetched from elsewhere, not from the registry.
        for (const l of layers)
            if (!l.urls)
                this.present.add(l.digest);
    }
    getBlob(digest) {
        return this.retrying(async () => {
            const res = await this.send('GET', this.url(`blobs/${digest}`), {
                access: 'pull',
                maxBody: 64 * 1024 * 1024
            });
            if (res.status !== 200)
                throw this.unexpected(`GET blob ${digest}`, res);
            if (sha256$1(res.body) !== digest)
                throw new TransientHttpError(`${this.name}: blob ${digest} arrived with other content`);
            return res.body;
        });
    }
    async putBlob(desc, data, opts = {}) {
        const outcome = await this.placeBlob(desc, data, opts);
        this.present.add(desc.digest);
        return outcome;
    }
    async placeBlob(desc, data, opts) {
        if (this.present.has(desc.digest))
            return 'exists';
        const size = Buffer.isBuffer(data) ? data.length : node_fs.statSync(data.file).size;
        if (size !== desc.size)
            throw new RegistryError(`blob ${desc.digest}: ${size} bytes given for a descriptor of ${desc.size}`);
        const mountFrom = opts.mountFrom && opts.mountFrom !== this.ref.repository ? opts.mountFrom : null;
        // A fresh blob's upload session (one opened ahead, else a new one) is opened while its
        // existence is checked: one round trip less before the bytes go, and a session closed again
        // in the rare case the blob is there.
        let opened = null;
        if (opts.ask === false && !mountFrom) {
            opened = this.ahead.shift() ?? null;
        }
        else if (opts.fresh && !mountFrom) {
            opened = this.ahead.shift() ?? this.retrying(() => this.startUpload()).catch(() => null);
            const exists = await this.blobExists(desc.digest).catch(async (e) => {
                await this.closeUpload(opened);
                throw e;
            });
            if (exists) {
                await this.closeUpload(opened);
                return 'exists';
            }
        }
        else if (await this.blobExists(desc.digest))
            return 'exists';
        return this.retrying(async () => {
            let location;
            // The session opened ahead is used once; a retry opens its own.
            const ahead = opened ? await opened : null;
            opened = null;
            if (ahead) {
                location = ahead;
            }
            else if (mountFrom) {
                const url = `${this.url('blobs/uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`;
                const res = await this.send('POST', url, { access: 'push', scopes: [scopeFor(mountFrom, 'pull')] });
                if (res.status === 201)
                    return 'mounted';
                if (res.status !== 202)
                    throw this.unexpected(`mount of ${desc.digest} from ${mountFrom}`, res);
                location = this.location(res);
            }
            else {
                location = await this.startUpload();
            }
            const part = (start, end) => Buffer.isBuffer(data) ? data.subarray(start, end) : { file: data.file, start, end: end - 1 };
            if (size > this.chunkSize) {
                for (let start = 0; start < size; start += this.chunkSize) {
                    const end = Math.min(size, start + this.chunkSize);
                    const res = await this.send('PATCH', location, {
                        access: 'push',
                        headers: {
                            'content-type': 'application/octet-stream',
                            'content-range': `${start}-${end - 1}`,
                            'content-length': String(end - start)
                        },
                        body: () => part(start, end)
                    });
                    if (res.status !== 202)
                        throw this.unexpected(`uploading bytes ${start}-${end - 1} of ${desc.digest}`, res);
                    location = this.location(res);
                }
                const res = await this.send('PUT', withDigest(location, desc.digest), { access: 'push' });
                this.checkPut(res, desc.digest);
            }
            else {
                const res = await this.send('PUT', withDigest(location, desc.digest), {
                    access: 'push',
                    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
                    body: () => part(0, size)
                });
                this.checkPut(res, desc.digest);
            }
            return 'uploaded';
        });
    }
    openUploads(count) {
        for (let i = 0; i < count; i++)
            this.ahead.push(handled(this.retrying(() => this.startUpload()).catch(() => null)));
    }
    async dropUploads() {
        await Promise.all(this.ahead.splice(0).map((s) => this.closeUpload(s)));
    }
    /** A new upload session: its location. */
    async startUpload() {
        const res = await this.send('POST', this.url('blobs/uploads/'), { access: 'push' });
        if (res.status !== 202)
            throw this.unexpected('starting an upload', res);
        return this.location(res);
    }
    /** Drop an upload session opened ahead and not used (the registry would expire it anyway). */
    async closeUpload(opened) {
        const location = await opened;
        if (location)
            await this.send('DELETE', location, { access: 'push' }).catch(() => undefined);
    }
    get mountable() {
        return { host: this.ref.host, repository: this.ref.repository };
    }
    /** Mount a blob from another repository of this registry; false when the registry declined. */
    async mountBlob(desc, fromRepository) {
        if (fromRepository === this.ref.repository)
            return this.blobExists(desc.digest);
        return this.retrying(async () => {
            const url = `${this.url('blobs/uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`;
            const res = await this.send('POST', url, { access: 'push', scopes: [scopeFor(fromRepository, 'pull')] });
            if (res.status === 201) {
                this.present.add(desc.digest);
                return true;
            }
            if (res.status === 202) {
                // Declined: the registry opened an upload session instead; close it.
                await this.send('DELETE', this.location(res), { access: 'push' }).catch(() => undefined);
                return false;
            }
            throw this.unexpected(`mount of ${desc.digest} from ${fromRepository}`, res);
        });
    }
    /** Download a blob to a temp file, checked against its digest (base image layers, for copies). */
    async openBlob(digest) {
        const dir = node_path.join(node_os.tmpdir(), 'fast-build-blobs');
        node_fs.mkdirSync(dir, { recursive: true });
        const file = node_path.join(dir, `${digest.slice(7)}.${process.pid}`);
        // Each download goes to a name of its own and is renamed into place once verified: two reads
        // of one blob at once (two builds in one process) must not write the same file, where one
        // would truncate what the other is reading.
        const part = `${file}.${node_crypto.randomBytes(6).toString('hex')}.part`;
        try {
            return await this.openBlobTo(digest, file, part);
        }
        finally {
            node_fs.rmSync(part, { force: true });
        }
    }
    openBlobTo(digest, file, part) {
        return this.retrying(async () => {
            for (let attempt = 0; attempt < 2; attempt++) {
                const authorization = await this.auth.header([scopeFor(this.ref.repository, 'pull')]);
                // Registries may send blob reads to storage elsewhere (a CDN, a signed S3 URL): the
                // registry's token goes to the registry only.
                const res = await this.http.download({
                    url: this.url(`blobs/${digest}`),
                    maxRedirects: 5,
                    authorize: (u) => authorization && new URL(u).origin === new URL(this.base).origin ? authorization : null
                }, part);
                if (res.status === 401 && attempt === 0) {
                    this.auth.learn({ ...res, url: this.url(`blobs/${digest}`) });
                    this.auth.forget();
                    continue;
                }
                throwIfTransient(res);
                if (res.status !== 200)
                    throw this.unexpected(`GET blob ${digest}`, { ...res, url: this.url(`blobs/${digest}`) });
                if (`sha256:${res.sha256}` !== digest) {
                    throw new TransientHttpError(`${this.name}: blob ${digest} arrived with other content (sha256:${res.sha256})`);
                }
                node_fs.renameSync(part, file);
                return { file };
            }
            throw new RegistryAuthError(`${this.ref.host} refused to serve ${digest} with ${describeCredential(this.auth.credential)}`);
        });
    }
    /**
     * Start streaming a blob: one upload session, one PATCH whose body is written as the blob is
     * produced (as `docker push` does), then the PUT with the digest. Not retried: on any failure
     * the caller uploads the bytes it kept with putBlob, which is.
     */
    async beginBlob() {
        // A session opened ahead (openUploads) serves a stream as well as a PUT.
        const location = (await this.ahead.shift()) ?? (await this.retrying(() => this.startUpload()));
        const authorization = await this.auth.header([scopeFor(this.ref.repository, 'push')]);
        const auth = authorization ? { authorization } : {};
        const patch = this.http.stream({
            method: 'PATCH',
            url: location,
            headers: { ...auth, 'content-type': 'application/octet-stream' }
        });
        const cancel = async () => {
            patch.abort();
            // Let the registry drop the session now rather than when it expires.
            await this.http.request({ method: 'DELETE', url: location, headers: auth }).catch(() => undefined);
        };
        return {
            write: (chunk) => patch.write(chunk),
            commit: async (desc, opts) => {
                if ((opts?.ask ?? true) && (await this.blobExists(desc.digest))) {
                    await cancel();
                    return 'exists';
                }
                const res = await patch.end();
                if (res.status !== 202)
                    throw this.unexpected(`streaming ${desc.digest}`, res);
                const put = await this.send('PUT', withDigest(this.location(res), desc.digest), { access: 'push' });
                this.checkPut(put, desc.digest);
                this.present.add(desc.digest);
                return 'uploaded';
            },
            abort: cancel
        };
    }
    checkPut(res, digest) {
        if (res.status !== 201)
            throw this.unexpected(`finishing the upload of ${digest}`, res);
        const got = res.headers['docker-content-digest'];
        if (got && got !== digest)
            throw new RegistryError(`${this.name}: uploaded ${digest} but the registry stored ${got}`);
    }
    location(res) {
        const loc = res.headers['location'];
        if (!loc)
            throw new RegistryError(`${this.name}: an upload answer without a Location header`);
        return new URL(loc, this.base).toString();
    }
    getManifest(ref) {
        return this.retrying(async () => {
            const res = await this.send('GET', this.url(`manifests/${ref}`), {
                access: 'pull',
                headers: { accept: ACCEPT_ANY_MANIFEST }
            });
            if (res.status === 404)
                return null;
            if (res.status !== 200)
                throw this.unexpected(`GET manifest ${ref}`, res);
            const digest = sha256$1(res.body);
            if (isDigestRef(ref) && digest !== ref)
                throw new TransientHttpError(`${this.name}: manifest ${ref} arrived with other content`);
            const mediaType = (res.headers['content-type'] ?? '').split(';')[0].trim();
            this.learn(res.body, mediaType);
            return { bytes: res.body, mediaType, digest };
        });
    }
    putManifest(tag, bytes, mediaType) {
        const digest = sha256$1(bytes);
        if (tag !== null && !TAG_PATTERN.test(tag))
            throw new RegistryError(`invalid tag ${JSON.stringify(tag)}`);
        const ref = tag ?? digest;
        const url = this.url(`manifests/${ref}`);
        let rechecked = false;
        return this.retrying(async () => {
            const res = await this.send('PUT', url, {
                access: 'push',
                headers: { 'content-type': mediaType },
                body: () => bytes
            });
            if (res.status === 400 && errorCodes(res).includes('MANIFEST_BLOB_UNKNOWN')) {
                // Concurrent pushes of the same blobs into one repository race in distribution: a blob
                // whose upload got 201 can be unknown to a manifest PUT for a moment. When HEAD finds every
                // blob the manifest names, the PUT is worth one more try; a blob really missing is named.
                if (!rechecked) {
                    const count = await this.checkReferenced(bytes, mediaType, ref);
                    rechecked = true;
                    throw new TransientHttpError(`PUT ${redactUrl(url)}: 400 MANIFEST_BLOB_UNKNOWN, yet all ${count} blobs it names are there (a registry race)`, null, 'status', this.ref.host);
                }
                throw new RegistryError(`${this.name}: the registry refused manifest ${ref} again with MANIFEST_BLOB_UNKNOWN${errorText(res)}, although HEAD finds every blob it names`, {}, "run again; if it keeps happening, the registry's storage disagrees with itself (check its logs)", true);
            }
            if (res.status !== 201 && res.status !== 200)
                throw this.unexpected(`PUT manifest ${ref}`, res);
            const got = res.headers['docker-content-digest'];
            if (got && got !== digest)
                throw new RegistryError(`${this.name}: pushed manifest ${digest} but the registry stored ${got}`);
            this.learn(bytes, mediaType);
            return digest;
        });
    }
    /**
     * HEAD every blob (or, for an index, every manifest) that `bytes` names, once each, without
     * retries of its own (the operation around it retries). Returns how many were checked; throws a
     * RegistryError naming those that are missing.
     */
    async checkReferenced(bytes, mediaType, ref) {
        const parsed = parseManifest(bytes, mediaType, `manifest ${ref}`);
        const wanted = parsed.kind === 'index'
            ? parsed.index.manifests.map((d, i) => ({
                desc: d,
                what: `manifest ${i + 1} of ${parsed.index.manifests.length}`,
                path: `manifests/${d.digest}`
            }))
            : [
                { desc: parsed.manifest.config, what: 'config', path: `blobs/${parsed.manifest.config.digest}` },
                ...parsed.manifest.layers
                    // Foreign layers (with urls) are not in the registry by design.
                    .filter((d) => !d.urls?.length)
                    .map((d, i, all) => ({
                    desc: d,
                    what: `layer ${i + 1} of ${all.length}`,
                    path: `blobs/${d.digest}`
                }))
            ];
        const missing = [];
        await Promise.all(wanted.map(async (w) => {
            const res = await this.send('HEAD', this.url(w.path), {
                access: 'pull',
                ...(parsed.kind === 'index' ? { headers: { accept: ACCEPT_ANY_MANIFEST } } : {})
            });
            if (res.status === 404)
                missing.push(`${w.what} ${w.desc.digest}`);
            else if (res.status !== 200)
                throw this.unexpected(`HEAD ${w.path}`, res);
        }));
        if (missing.length > 0) {
            throw new RegistryError(`${this.name}: the registry refused manifest ${ref} (400 MANIFEST_BLOB_UNKNOWN): it does not have ${missing.sort().join(', ')}`, {}, 'run again: the next run uploads what is missing (a concurrent delete or a garbage collection of the repository may have removed it)');
        }
        return wanted.length;
    }
    async listTags() {
        const tags = [];
        let url = `${this.url('tags/list')}?n=1000`;
        for (let page = 0; url && page < 1000; page++) {
            const current = url;
            const res = await this.retrying(() => this.send('GET', current, { access: 'pull' }));
            if (res.status === 404)
                return [];
            if (res.status !== 200)
                throw this.unexpected('listing tags', res);
            const body = JSON.parse(res.body.toString('utf8'));
            tags.push(...(body.tags ?? []));
            const next = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers['link'] ?? '');
            url = next ? new URL(next[1], this.base).toString() : null;
        }
        return tags.sort();
    }
}
/** The `code`s of a distribution-style JSON error body (`{"errors":[{"code":\u2026}]}`). */
function errorCodes(res) {
    try {
        const o = JSON.parse(res.body.toString('utf8'));
        return (o.errors ?? []).map((e) => e.code).filter((c) => typeof c === 'string');
    }
    catch {
        return [];
    }
}
function withDigest(location, digest) {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    return u.toString();
}

// A client for the Python "simple" repository API: the files a project has on an index, with
// their absolute URLs and hashes. Speaks PEP 691 JSON and falls back to PEP 503 HTML, for
// `http(s)://` indexes (PyPI, private indexes, download.pytorch.org) and `file://` trees (a local
// mirror laid out as `<root>/<project>/index.html`). The page parsers are pure; `PackageIndex`
// is the edge that fetches pages, with redirects, retries of transient failures, credentials only
// for the index's own origin, and one fetch per project per run.
/** The Accept header of PEP 691: JSON preferred, HTML accepted. */
const SIMPLE_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
/** The index could not answer for a project, or does not list a file. */
class IndexError extends FastBuildError {
    index;
    project;
    filename;
    temporary;
    constructor(message, 
    /** The index URL, redacted. */
    index, project, filename, hint, 
    /** A failure that may go away on its own (network, 5xx). */
    temporary = false) {
        super(message, {}, hint);
        this.index = index;
        this.project = project;
        this.filename = filename;
        this.temporary = temporary;
    }
}
// ---------------------------------------------------------------------------------------------
// Pure part: URLs and page parsing.
/** `https://pypi.org/simple` + `Foo.Bar` \u2192 `https://pypi.org/simple/foo-bar/`. */
function projectPageUrl(indexUrl, project) {
    const base = indexUrl.replace(/\/+$/, '');
    return `${base}/${encodeURIComponent(normalizeName(project))}/`;
}
const NAMED_ENTITIES = {
    amp: '&',
    lt: '<',
    gt: '>',
    quot: '"',
    apos: "'",
    nbsp: '\u00a0',
    equals: '=',
    excl: '!',
    comma: ',',
    period: '.',
    colon: ':',
    semi: ';',
    sol: '/',
    num: '#',
    percnt: '%',
    plus: '+',
    ast: '*',
    lpar: '(',
    rpar: ')',
    tilde: '~'
};
/** HTML character references: `&gt;`, `&#62;`, `&#x3e;`. Unknown names stay as written. */
function decodeHtmlEntities(s) {
    if (!s.includes('&'))
        return s;
    return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);?/g, (whole, ref) => {
        if (ref[0] === '#') {
            const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
            if (!Number.isFinite(code) || code < 0 || code > 0x10ffff)
                return whole;
            try {
                return String.fromCodePoint(code);
            }
            catch {
                return whole;
            }
        }
        return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
    });
}
function lastSegment(url) {
    const path = url.pathname;
    const last = path.slice(path.lastIndexOf('/') + 1);
    try {
        return decodeURIComponent(last);
    }
    catch {
        return last;
    }
}
/** An absolute URL without userinfo and fragment; the fragment's `algo=hex`, if any. */
function resolveHref(href, base) {
    const u = new URL(href, base);
    let hash = null;
    const m = /^#([a-zA-Z0-9_]+)=([0-9a-fA-F]+)$/.exec(u.hash);
    if (m)
        hash = [m[1].toLowerCase(), m[2].toLowerCase()];
    u.hash = '';
    u.username = '';
    u.password = '';
    return { url: u.href, hash };
}
/** Read the start tag at `text[at] === '<'`: its name and attributes (values entity-decoded). */
function readStartTag(text, at) {
    let i = at + 1;
    const n = text.length;
    const nameMatch = /^[a-zA-Z][a-zA-Z0-9-]*/.exec(text.slice(i, i + 32));
    if (!nameMatch)
        return null;
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    const attrs = new Map();
    while (i < n) {
        while (i < n && /\s/.test(text[i]))
            i++;
        if (i >= n)
            return null;
        if (text[i] === '>')
            return { name, attrs, end: i + 1 };
        if (text[i] === '/') {
            i++;
            continue;
        }
        let attrName = '';
        while (i < n && !/[\s=>/]/.test(text[i]))
            attrName += text[i++];
        while (i < n && /\s/.test(text[i]))
            i++;
        let value = '';
        if (text[i] === '=') {
            i++;
            while (i < n && /\s/.test(text[i]))
                i++;
            const q = text[i];
            if (q === '"' || q === "'") {
                const close = text.indexOf(q, i + 1);
                if (close === -1)
                    return null;
                value = text.slice(i + 1, close);
                i = close + 1;
            }
            else {
                while (i < n && !/[\s>]/.test(text[i]))
                    value += text[i++];
            }
        }
        if (attrName !== '' && !attrs.has(attrName.toLowerCase()))
            attrs.set(attrName.toLowerCase(), decodeHtmlEntities(value));
    }
    return null;
}
/**
 * PEP 503 (with PEP 592 yanking and PEP 658/714 attributes ignored): every `<a href>` on the page
 * is a file. The file name is the last path segment of the URL, percent-decoded (as pip reads it:
 * `torch-2.7.0%2Bcu126-\u2026.whl` is `torch-2.7.0+cu126-\u2026.whl`); hrefs resolve against `<base href>`
 * when the page has one, else the page URL; `#sha256=\u2026` fragments are the hashes.
 */
function parseSimpleHtml(html, pageUrl) {
    const text = html.replace(/<!--[\s\S]*?(-->|$)/g, '');
    let base = pageUrl;
    const files = [];
    const starts = /<(?:a|base)[\s>]/gi;
    for (let m = starts.exec(text); m !== null; m = starts.exec(text)) {
        const tag = readStartTag(text, m.index);
        if (!tag)
            continue;
        starts.lastIndex = tag.end;
        if (tag.name === 'base') {
            const href = tag.attrs.get('href');
            if (href) {
                try {
                    base = new URL(href, pageUrl).href;
                }
                catch {
                    // An unusable <base> is ignored, as browsers do.
                }
            }
            continue;
        }
        const href = tag.attrs.get('href');
        if (href === undefined || href.trim() === '')
            continue;
        const closeRe = /<\/a\s*>/gi;
        closeRe.lastIndex = tag.end;
        const close = closeRe.exec(text);
        const inner = close === null ? '' : text.slice(tag.end, close.index);
        let resolved;
        try {
            resolved = resolveHref(href.trim(), base);
        }
        catch {
            continue;
        }
        const anchorText = decodeHtmlEntities(inner.replace(/<[^>]*>/g, '')).trim();
        const filename = lastSegment(new URL(resolved.url)) || anchorText;
        if (filename === '')
            continue;
        const yanked = tag.attrs.get('data-yanked');
        const requiresPython = tag.attrs.get('data-requires-python');
        files.push({
            filename,
            url: resolved.url,
            hashes: resolved.hash ? { [resolved.hash[0]]: resolved.hash[1] } : {},
            requiresPython: requiresPython === undefined || requiresPython === '' ? null : requiresPython,
            yanked: yanked === undefined ? false : yanked === '' ? true : yanked,
            size: null
        });
    }
    return files;
}
/** A page that is not what it should be; the caller adds which index and project. */
class PageFormatError extends Error {
}
/** PEP 691 JSON (api-version 1.x): `files[]` with `filename`, `url` (may be relative), `hashes`, \u2026 */
function parseSimpleJson(json, pageUrl) {
    let doc;
    try {
        doc = JSON.parse(json);
    }
    catch (e) {
        throw new PageFormatError(`not valid JSON (${e.message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
        throw new PageFormatError('not a JSON object');
    const o = doc;
    const meta = o['meta'];
    const version = typeof meta === 'object' && meta !== null ? meta['api-version'] : undefined;
    if (typeof version !== 'string')
        throw new PageFormatError('no meta.api-version');
    if (version.split('.')[0] !== '1')
        throw new PageFormatError(`api-version ${version} is not supported (only 1.x)`);
    const list = o['files'];
    if (!Array.isArray(list))
        throw new PageFormatError('no files list');
    const files = [];
    list.forEach((f, i) => {
        if (typeof f !== 'object' || f === null)
            throw new PageFormatError(`files[${i}] is not an object`);
        const e = f;
        const filename = e['filename'];
        const href = e['url'];
        if (typeof filename !== 'string' || filename === '')
            throw new PageFormatError(`files[${i}].filename is missing`);
        if (typeof href !== 'string' || href === '')
            throw new PageFormatError(`files[${i}].url is missing`);
        let resolved;
        try {
            resolved = resolveHref(href, pageUrl);
        }
        catch {
            throw new PageFormatError(`files[${i}].url is not a URL: ${JSON.stringify(redactUrl(href))}`);
        }
        const hashes = {};
        const h = e['hashes'];
        if (typeof h === 'object' && h !== null) {
            for (const [k, v] of Object.entries(h))
                if (typeof v === 'string')
                    hashes[k.toLowerCase()] = v.toLowerCase();
        }
        const rp = e['requires-python'];
        const y = e['yanked'];
        const size = e['size'];
        files.push({
            filename,
            url: resolved.url,
            hashes,
            requiresPython: typeof rp === 'string' && rp !== '' ? rp : null,
            yanked: typeof y === 'string' ? (y === '' ? true : y) : y === true,
            size: typeof size === 'number' ? size : null
        });
    });
    return files;
}
/** Choose the parser by Content-Type (PEP 691), or by the first character when there is none (file://). */
function parseSimplePage(body, contentType, pageUrl) {
    const ct = (contentType ?? '').toLowerCase();
    const json = ct.includes('json') || (ct === '' && body.trimStart().startsWith('{'));
    return json ? parseSimpleJson(body, pageUrl) : parseSimpleHtml(body, pageUrl);
}
let sharedClient = null;
function defaultHttp() {
    // Its requests' deadline is read from the environment per request (FAST_BUILD_REQUEST_TIMEOUT_S).
    sharedClient ??= new HttpClient();
    return sharedClient;
}
class PackageIndex {
    config;
    http;
    options;
    /** The index URL without userinfo (safe to show). */
    url;
    name;
    pages = new Map();
    resolved = null;
    constructor(config, http = defaultHttp(), options = {}) {
        this.config = config;
        this.http = http;
        this.options = options;
        this.url = redactUrl(config.url).replace(/\?\u2026$/, '');
        this.name = config.name ?? null;
    }
    /** The index URL without userinfo and the credential for it (looked up once, on first use). */
    get access() {
        this.resolved ??= resolveIndexCredential(this.config, this.options.credentials);
        return this.resolved;
    }
    /** The credential in use, described (user and source, never the secret); null when anonymous. */
    describeCredential() {
        const c = this.access.credential;
        return c ? describeIndexCredential(c) : null;
    }
    /**
     * `Authorization` for a request to `url`: the index's credential when `url` has the index's
     * origin (scheme, host, port), so credentials never travel to another host (a CDN, a redirect).
     */
    authorizationFor(url) {
        const c = this.access.credential;
        if (!c)
            return null;
        try {
            return new URL(url).origin === new URL(this.access.url).origin ? basicAuthorization(c) : null;
        }
        catch {
            return null;
        }
    }
    /** Every file the index lists for `project` (fetched once per PackageIndex). */
    files(project) {
        const name = normalizeName(project);
        let page = this.pages.get(name);
        if (!page) {
            page = this.fetchProject(name);
            this.pages.set(name, page);
            page.catch(() => this.pages.delete(name));
        }
        return page;
    }
    /** The file named `filename` (exactly; else ignoring case), or null when the index does not list it. */
    async find(project, filename) {
        const files = await this.files(project);
        return (files.find((f) => f.filename === filename) ??
            files.find((f) => f.filename.toLowerCase() === filename.toLowerCase()) ??
            null);
    }
    /** Like `find`, but a file that is not listed is an IndexError naming the index, project and file. */
    async get(project, filename) {
        const found = await this.find(project, filename);
        if (found)
            return found;
        const files = await this.files(project);
        const name = normalizeName(project);
        const listed = files.length === 0
            ? 'it lists no files for the project'
            : `it lists ${files.length} file${files.length === 1 ? '' : 's'} for the project, not this one`;
        throw new IndexError(`${filename} (${name}) is not on the index ${this.url}: ${listed}`, this.url, name, filename, 'the lock pins a file this index does not serve (removed, or locked against another index): ' +
            're-lock, or point the package source (or the mirror) at an index that has the file');
    }
    async fetchProject(project) {
        const pageUrl = projectPageUrl(this.access.url, project);
        if (pageUrl.startsWith('file:'))
            return this.readFileProject(project, pageUrl);
        if (!/^https?:/i.test(pageUrl)) {
            throw new IndexError(`the index URL ${this.url} is neither http(s):// nor file://`, this.url, project, null, 'use the index URL as pip would (https://host/simple or file:///path/to/simple)');
        }
        const res = await this.getPage(project, pageUrl);
        try {
            return parseSimplePage(res.body.toString('utf8'), res.headers['content-type'] ?? null, res.url);
        }
        catch (e) {
            throw this.badPage(project, res.url, e);
        }
    }
    async readFileProject(project, pageUrl) {
        let path;
        try {
            path = node_url.fileURLToPath(pageUrl);
        }
        catch (e) {
            throw new IndexError(`the index URL ${this.url} is not a local path: ${e.message}`, this.url, project, null, 'write file:// index URLs as file:///absolute/path/to/simple');
        }
        // pip reads `<dir>/index.html` for a directory URL.
        let file = path;
        let url = pageUrl;
        try {
            if ((await promises.stat(path)).isDirectory()) {
                file = `${path.replace(/\/+$/, '')}/index.html`;
                url = new URL('index.html', pageUrl).href;
            }
        }
        catch {
            throw this.notFound(project, pageUrl, 'no such directory');
        }
        let text;
        try {
            text = await promises.readFile(file, 'utf8');
        }
        catch (e) {
            const code = e.code;
            if (code === 'ENOENT')
                throw this.notFound(project, pageUrl, `no ${file}`);
            throw new IndexError(`cannot read the index page for ${project} at ${file}: ${e.message}`, this.url, project, null, 'check the permissions of the local index');
        }
        try {
            return parseSimplePage(text, null, url);
        }
        catch (e) {
            throw this.badPage(project, url, e);
        }
    }
    /** GET a page with PEP 691 negotiation, following redirects, retrying transient failures. */
    async getPage(project, pageUrl) {
        let res;
        try {
            res = await withRetry(async () => {
                const r = await this.http.request({
                    method: 'GET',
                    url: pageUrl,
                    headers: { accept: SIMPLE_ACCEPT },
                    maxRedirects: this.options.maxRedirects ?? 10,
                    // Asked again at each redirect: the credential goes to the index's origin only.
                    authorize: (u) => this.authorizationFor(u),
                    maxBody: this.options.maxPage ?? 64 * 1024 * 1024
                });
                throwIfTransient(r);
                return r;
            }, this.options.retry ?? DEFAULT_RETRY, this.options.onRetry);
        }
        catch (e) {
            const transient = e instanceof RetriesExhaustedError || e instanceof TransientHttpError;
            // A redirect loop, or a redirect to something that is not http(s), says what to check itself.
            const own = e instanceof HttpError && e.status !== null ? e.hint : undefined;
            throw new IndexError(`cannot get project ${project} from the index ${this.url}: ${e.message}`, this.url, project, null, transient
                ? `the index did not answer (network, or the index is down): run again later, or use a mirror index that is reachable; ${BOUNDS_HINT}`
                : (own ?? 'check the index URL (the package source in the lock or pyproject.toml) and the network'), transient);
        }
        if (res.status === 200)
            return res;
        if (res.status === 404 || res.status === 410) {
            throw this.notFound(project, res.url, `GET ${redactUrl(res.url)} answered ${res.status}`);
        }
        if (res.status === 401 || res.status === 403)
            throw this.denied(project, res.url, res.status);
        throw new IndexError(`the index ${this.url} answered ${res.status} for project ${project} (GET ${redactUrl(res.url)})`, this.url, project, null, 'check the index URL; the server does not speak the simple repository API (PEP 503/691) there');
    }
    notFound(project, pageUrl, detail) {
        return new IndexError(`project ${project} is not on the index ${this.url} (${detail.replace(pageUrl, redactUrl(pageUrl))})`, this.url, project, null, 'check that the package source in the lock points at the index that serves it (and re-lock), ' +
            'or add the project to the mirror');
    }
    denied(project, pageUrl, status) {
        const c = this.access.credential;
        const names = this.name ? credentialEnvNames(this.name).join(', ') : null;
        const hint = c
            ? `the index rejected ${describeIndexCredential(c)}: check the username and password (or token) and their access to the index`
            : `give credentials for the index: ${names ? `set ${names}, ` : ''}put user:password@ in the index URL, or add "machine ${hostOf(pageUrl)} login \u2026 password \u2026" to ~/.netrc`;
        return new IndexError(`the index ${this.url} refused access to project ${project} (${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'})`, this.url, project, null, hint);
    }
    badPage(project, pageUrl, e) {
        return new IndexError(`the index ${this.url} served a page for project ${project} that is not a simple-API page (${redactUrl(pageUrl)}): ${e.message}`, this.url, project, null, 'check the index URL: it must be the simple API root (\u2026/simple), not the project web site');
    }
}
function hostOf(url) {
    try {
        return new URL(url).hostname;
    }
    catch {
        return 'HOST';
    }
}

// Getting the exact files a lock pins: find each file's URL (the lock's own, a mirror's, or the
// package index's), download it in parallel while hashing it, check the sha256 the lock pins, and
// keep it in a content-addressed cache. A file enters the cache only under its verified hash (it
// is written to a temporary name and renamed), so a cache hit is whole and right, and costs no
// network. Pages and files come through the tool's one HTTP client (src/net/http.ts: deadlines,
// redirects with credentials only for their origin); transient failures (5xx, 429, dropped
// connections, a request past its deadline) are retried from scratch under the one retry rule
// (src/net/retry.ts); everything else fails at once with a message that names the package, the
// file, where it came from (credentials and queries removed) and what to do.
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** A file could not be fetched. */
class FetchError extends FastBuildError {
}
/** A file's sha256 is not the one the lock pins. */
class HashMismatchError extends FetchError {
    project;
    version;
    filename;
    expected;
    actual;
    from;
    by;
    constructor(project, version, filename, expected, actual, 
    /** Where the file came from (URL redacted, or a path). */
    from, 
    /** 'download': the bytes were hashed; 'listing': the index lists another hash. */
    by = 'download') {
        const what = `${label(project, version)}: ${filename}`;
        super(by === 'download'
            ? `${what} from ${from} has sha256 ${actual}, but the lock pins sha256 ${expected}`
            : `${what}: the index ${from} lists sha256 ${actual}, but the lock pins sha256 ${expected}`, {}, `${by === 'download' ? 'the download was discarded. ' : ''}If the package was re-published, re-lock; ` +
            'otherwise the index (or mirror) serves a different file than the one the lock was made from: ' +
            'check the package source and the mirror');
        this.project = project;
        this.version = version;
        this.filename = filename;
        this.expected = expected;
        this.actual = actual;
        this.from = from;
        this.by = by;
    }
}
function label(name, version) {
    return version ? `${name} ${version}` : name;
}
function itemLabel(item) {
    return label(item.name, item.version);
}
/** The sha256 the lock pins for the item, lowercase; null when it pins none. */
function pinnedSha256(file) {
    const h = file.hashes['sha256'];
    return h && SHA256_HEX.test(h.toLowerCase()) ? h.toLowerCase() : null;
}
// ---------------------------------------------------------------------------------------------
// Fetching.
const PROGRESS_STEP = 1024 * 1024;
const MAX_REDIRECTS = 10;
/**
 * Fetch every item into the cache, `concurrency` at a time; results in the order of `items`. Items
 * with the same sha256 are fetched once. Before any network, every item must pin a sha256. On a
 * failure no further downloads start; the ones running finish, and the failure is thrown (several:
 * one FetchError listing them).
 */
async function fetchArtifacts(items, opts) {
    const unpinned = items.filter((i) => pinnedSha256(i.file) === null);
    if (unpinned.length > 0)
        throw unpinnedError(unpinned);
    // Leftovers of killed runs are removed meanwhile (files a day old: never one written now).
    const pruned = opts.cache.pruneTemp().catch(() => undefined);
    const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8));
    const ownHttp = opts.http === undefined;
    const run = {
        opts,
        cache: opts.cache,
        retry: opts.retry ?? DEFAULT_RETRY,
        timeoutMs: opts.requestTimeoutMs ?? opts.idleTimeoutMs,
        indexes: new Map(),
        // Index pages and files share one pool; as many connections as downloads run at once.
        http: opts.http ??
            new HttpClient({
                requestTimeoutMs: opts.requestTimeoutMs ?? opts.idleTimeoutMs ?? netLimits().requestTimeoutMs,
                maxSockets: concurrency
            }),
        emit: (e) => {
            try {
                opts.onProgress?.(e);
            }
            catch {
                // A progress printer that throws must not break a download.
            }
        }
    };
    // One job per distinct sha256.
    const jobs = new Map();
    for (const item of items) {
        const sha256 = pinnedSha256(item.file);
        if (!jobs.has(sha256))
            jobs.set(sha256, { item, sha256 });
    }
    const done = new Map();
    const queue = [...jobs.values()];
    const errors = [];
    let next = 0;
    const worker = async () => {
        while (errors.length === 0 && next < queue.length) {
            const job = queue[next++];
            try {
                done.set(job.sha256, await fetchOne(run, job.item, job.sha256));
            }
            catch (e) {
                errors.push(e);
            }
        }
    };
    try {
        await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    }
    finally {
        if (ownHttp)
            run.http.close();
        await pruned;
    }
    if (errors.length === 1)
        throw errors[0];
    if (errors.length > 1) {
        const skipped = queue.length - next;
        throw new FetchError(`${errors.length} files could not be fetched${skipped > 0 ? ` (${skipped} more not attempted)` : ''}:\n` +
            errors.map((e) => `  - ${describeError(e).replace(/\n/g, '\n    ')}`).join('\n'));
    }
    return items.map((item) => ({ item, ...done.get(pinnedSha256(item.file)) }));
}
function unpinnedError(items) {
    const shown = items.slice(0, 5).map((i) => {
        const algos = Object.keys(i.file.hashes);
        return `${itemLabel(i)} (${i.file.name}${algos.length > 0 ? `: only ${algos.join(', ')}` : ': no hash'})`;
    });
    const more = items.length > 5 ? ` and ${items.length - 5} more` : '';
    return new FetchError(`the lock pins no sha256 for ${items.length === 1 ? 'a file' : `${items.length} files`}: ${shown.join(', ')}${more}`, {}, 'fast-build installs only files it can verify: re-lock with hashes (Poetry, uv and pylock record sha256 by default)');
}
function indexFor(run, config) {
    const key = `${config.name ?? ''}\n${config.url}`;
    let index = run.indexes.get(key);
    if (!index) {
        const o = {
            retry: run.retry,
            ...(run.opts.credentials ? { credentials: run.opts.credentials } : {})
        };
        index = new PackageIndex(config, run.http, o);
        run.indexes.set(key, index);
    }
    return index;
}
async function locate(run, item, sha256) {
    const { file } = item;
    if (file.path !== null) {
        const base = run.opts.baseDir ?? process.cwd();
        return { kind: 'path', path: node_path.isAbsolute(file.path) ? file.path : node_path.resolve(base, file.path) };
    }
    const viaIndex = async (config) => {
        const index = indexFor(run, config);
        const listed = await index.get(item.name, file.name);
        checkListing(item, sha256, listed, index.url);
        return asOrigin(listed.url, (u) => index.authorizationFor(u));
    };
    if (run.opts.mirror && item.index !== null)
        return viaIndex(run.opts.mirror);
    if (file.url !== null) {
        // A lock URL may carry its own userinfo (pylock allows it); it is used for that origin only.
        const split = splitUserinfo(file.url);
        const own = split.username !== null
            ? basicAuthorization({ username: split.username, password: split.password ?? '' })
            : null;
        const index = item.index && item.index.url !== '' ? indexFor(run, item.index) : null;
        return asOrigin(split.url, (u) => {
            if (own !== null && sameOrigin(u, split.url))
                return own;
            return index ? index.authorizationFor(u) : null;
        });
    }
    if (item.index !== null && item.index.url !== '')
        return viaIndex(item.index);
    throw new FetchError(`${itemLabel(item)}: the lock gives no URL for ${file.name} and no index to find it on`, {}, 'set a mirror index (every registry file is then looked up there by name), or re-lock so the lock records the index');
}
function asOrigin(url, authorize) {
    if (url.startsWith('file:'))
        return { kind: 'path', path: node_url.fileURLToPath(url) };
    return { kind: 'url', url, authorize };
}
function sameOrigin(a, b) {
    try {
        return new URL(a).origin === new URL(b).origin;
    }
    catch {
        return false;
    }
}
/** An index that lists a different sha256 than the lock pins serves another file: stop before downloading. */
function checkListing(item, expected, listed, indexUrl) {
    const actual = listed.hashes['sha256'];
    if (actual !== undefined && actual !== expected) {
        throw new HashMismatchError(item.name, item.version, item.file.name, expected, actual, indexUrl, 'listing');
    }
}
async function fetchOne(run, item, sha256) {
    const cachedSize = run.cache.sizeOf(sha256, item.file.size);
    if (cachedSize !== null) {
        const path = run.cache.pathFor(sha256);
        run.emit({ kind: 'cached', item, path, size: cachedSize });
        return { path, sha256, size: cachedSize, cached: true };
    }
    // Being fetched already (ahead of the build that needs it, or for another variant): that
    // download serves this one too. One that fails leaves this one to try on its own, and to report
    // its own failure.
    const arriving = run.cache.arriving(sha256);
    if (arriving) {
        const waited = Date.now();
        const got = await arriving.catch(() => null);
        if (got) {
            run.emit({ kind: 'done', item, path: got.path, bytes: got.size, ms: Date.now() - waited });
            return { path: got.path, sha256, size: got.size, cached: false };
        }
    }
    const got = await run.cache.track(sha256, download(run, item, sha256));
    return { path: got.path, sha256, size: got.size, cached: false };
}
/** The file from where the lock (or the mirror) says, checked and committed to the cache. */
async function download(run, item, sha256) {
    const origin = await locate(run, item, sha256);
    const started = Date.now();
    const from = origin.kind === 'url' ? redactUrl(origin.url) : origin.path;
    run.emit({ kind: 'start', item, url: from, total: item.file.size });
    let lastStep = 0;
    const onBytes = (bytes, total) => {
        const step = Math.floor(bytes / PROGRESS_STEP);
        if (step > lastStep || (total !== null && bytes === total)) {
            lastStep = step;
            run.emit({ kind: 'progress', item, bytes, total: total ?? item.file.size });
        }
    };
    const temp = await run.cache.tempPath();
    try {
        const got = origin.kind === 'path'
            ? await copyLocal(item, origin.path, temp, onBytes)
            : await downloadWithRetry(run, item, origin, temp, (bytes, total) => {
                if (bytes === 0)
                    lastStep = 0;
                onBytes(bytes, total);
            });
        if (got.sha256 !== sha256) {
            throw new HashMismatchError(item.name, item.version, item.file.name, sha256, got.sha256, from);
        }
        const path = await run.cache.commit(temp, sha256);
        run.emit({ kind: 'done', item, path, bytes: got.bytes, ms: Date.now() - started });
        return { path, size: got.bytes };
    }
    finally {
        await promises.rm(temp, { force: true });
    }
}
async function copyLocal(item, path, temp, onBytes) {
    let size;
    try {
        const s = await promises.stat(path);
        if (!s.isFile())
            throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
        size = s.size;
    }
    catch (e) {
        const code = e.code;
        throw new FetchError(`${itemLabel(item)}: ${item.file.name}: ${code === 'ENOENT' ? 'no such file' : e.message}: ${path}`, {}, item.file.path !== null
            ? 'the lock points at a local file that is not there: build from the directory the lock was made in, or re-lock'
            : 'the local index lists a file that is not there: repair the mirror, or use another index');
    }
    return hashIntoFile(node_fs.createReadStream(path, { highWaterMark: 1024 * 1024 }), temp, onBytes, size);
}
async function downloadWithRetry(run, item, origin, temp, onBytes) {
    try {
        return await withRetry(async () => {
            const res = await run.http.download({
                url: origin.url,
                headers: { accept: '*/*' },
                maxRedirects: MAX_REDIRECTS,
                authorize: origin.authorize,
                onBytes,
                ...(run.timeoutMs !== undefined ? { timeoutMs: run.timeoutMs } : {})
            }, temp);
            throwIfTransient(res);
            if (res.status !== 200 || res.sha256 === null)
                throw new HttpError(`GET ${redactUrl(res.url)}: ${res.status}`, {
                    what: `GET ${redactUrl(res.url)}`,
                    status: res.status,
                    host: URL.canParse(res.url) ? new URL(res.url).host : null
                });
            return { bytes: res.size, sha256: res.sha256 };
        }, run.retry, (e, delayMs, attempt) => run.emit({ kind: 'retry', item, attempt, delayMs, reason: e.message }));
    }
    catch (e) {
        throw describeDownloadFailure(item, origin.url, e);
    }
}
/** What to do about a 401/403: the variables for the index's name, or why the credential failed. */
function downloadAccessHint(item, url) {
    const c = item.index?.credential;
    if (c)
        return `the server rejected the credential for ${redactUrl(item.index.url)}: check the username and password (or token) and their access`;
    const name = item.index?.name;
    const vars = name
        ? `set ${credentialEnvNames(name).join(', ')}`
        : 'name the index in pyproject.toml ([[tool.uv.index]] or [[tool.poetry.source]]) and set FAST_BUILD_INDEX_<NAME>_USERNAME/_PASSWORD';
    const host = URL.canParse(url) ? new URL(url).hostname : '<host>';
    return `give credentials for the index: ${vars}, put user:password@ in the index URL, or add "machine ${host} login \u2026 password \u2026" to ~/.netrc`;
}
/** A download that failed, as a FetchError naming the package, the file and the URL (redacted). */
function describeDownloadFailure(item, url, e) {
    const what = `${itemLabel(item)}: cannot download ${item.file.name} from ${redactUrl(url)}`;
    if (e instanceof RetriesExhaustedError || e instanceof TransientHttpError) {
        return new FetchError(`${what}: ${e.message}`, {}, `the server or the network is failing: run again later (files already fetched stay in the cache), or set a reachable mirror index; ${BOUNDS_HINT}`);
    }
    if (e instanceof UnknownHostError) {
        return new FetchError(`${what}: ${e.host ?? 'the host'} does not resolve (no such host)`, {}, 'check the network and DNS; on a runner without access to that host, set a mirror index that has the files');
    }
    if (e instanceof HttpError && e.status !== null && (e.status < 300 || e.status >= 400)) {
        const at = e.what !== null && e.what !== `GET ${redactUrl(url)}` ? ` at ${e.what.slice(4)}` : '';
        if (e.status === 404 || e.status === 410) {
            return new FetchError(`${what}: the server answered ${e.status} (not found)${at}`, {}, 'the file is no longer where the lock says: re-lock, or set a mirror index that has it');
        }
        if (e.status === 401 || e.status === 403) {
            return new FetchError(`${what}: the server answered ${e.status} (${e.status === 401 ? 'unauthorized' : 'forbidden'})`, {}, downloadAccessHint(item, url));
        }
        return new FetchError(`${what}: the server answered ${e.status}`, {}, 'check the URL in the lock and the index');
    }
    if (e instanceof FastBuildError)
        return new FetchError(`${what}: ${e.message}`, {}, e.hint);
    return new FetchError(`${what}: ${e.message}`);
}

// Finding an image (a variant's deps image `deps-<variant>-<hash>`, or a base image) and the
// manifest and config for each platform a variant builds, with clear errors when the reference
// names something else.
class DepsImageError extends FastBuildError {
}
function depsTag(variant, shortHash) {
    return `deps-${variant}-${shortHash}`;
}
const DEPS = { what: 'deps image', fix: 'rebuild the deps image (--rebuild)' };
/** The deps image for these platforms, or null when the tag does not exist. */
function resolveDepsImage(store, tag, platforms) {
    return resolveImage(store, tag, platforms, DEPS);
}
/** The config of one manifest, checked to list as many diff_ids as it has layers. */
async function configOf(store, m, what, kind) {
    const config = parseConfig(await store.getBlob(m.config.digest), `config of ${what}`);
    if (config.rootfs.diff_ids.length !== m.layers.length) {
        throw new DepsImageError(`${what}: its config has ${config.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`, {}, kind.fix);
    }
    return config;
}
/** A single-platform image: the one platform asked for, or a clear refusal. */
async function singleImage(store, ref, top, parsed, platforms, kind) {
    if (platforms.length > 1) {
        throw new DepsImageError(`${kind.what} ${ref} is a single-platform image, but the variant builds ${platforms.map(formatPlatform).join(', ')}`, {}, `${kind.fix}, or build one platform`);
    }
    const config = await configOf(store, parsed.manifest, `${kind.what} ${ref}`, kind);
    const want = platforms[0];
    if (!platformMatches(config, want)) {
        throw new DepsImageError(`${kind.what} ${ref} is for ${describePlatform(config)}, not ${formatPlatform(want)}`, {}, `the reference holds an image of another platform: ${kind.fix}, or fix platforms in [tool.fast-build]`);
    }
    return {
        ref,
        digest: top.digest,
        mediaType: parsed.mediaType,
        isIndex: false,
        platforms: [
            { platform: want, indexEntry: null, manifest: parsed.manifest, manifestDigest: top.digest, config }
        ]
    };
}
/** Each platform asked for, from an index's entries (each must be there). */
async function indexPlatforms(store, ref, entries, platforms, kind) {
    const found = [];
    for (const want of platforms) {
        const entry = entries.find((e) => e.platform && platformMatches(e.platform, want));
        if (!entry) {
            const have = entries.filter((e) => e.platform).map((e) => describePlatform(e.platform));
            throw new DepsImageError(`${kind.what} ${ref} has no ${formatPlatform(want)} image (it has ${have.join(', ') || 'no platform entries'})`, {}, kind.fix);
        }
        const child = await store.getManifest(entry.digest);
        if (!child)
            throw new DepsImageError(`${kind.what} ${ref}: its ${formatPlatform(want)} manifest ${entry.digest} is missing`, {}, kind.fix);
        const p = parseManifest(child.bytes, entry.mediaType, `${kind.what} ${ref} (${formatPlatform(want)})`);
        if (p.kind !== 'manifest')
            throw new DepsImageError(`${kind.what} ${ref}: nested indexes are not supported`);
        const config = await configOf(store, p.manifest, `${kind.what} ${ref} (${formatPlatform(want)})`, kind);
        found.push({
            platform: want,
            indexEntry: entry,
            manifest: p.manifest,
            manifestDigest: parseDigest(entry.digest),
            config
        });
    }
    return found;
}
/** An image by tag or digest in a store, for these platforms; null when the reference does not exist. */
async function resolveImage(store, tag, platforms, kind) {
    const ref = tag.startsWith('sha256:') ? `${store.name}@${tag}` : `${store.name}:${tag}`;
    const top = await store.getManifest(tag);
    if (!top)
        return null;
    const parsed = parseManifest(top.bytes, top.mediaType, `${kind.what} ${ref}`);
    if (parsed.kind === 'manifest')
        return singleImage(store, ref, top, parsed, platforms, kind);
    const found = await indexPlatforms(store, ref, parsed.index.manifests, platforms, kind);
    return { ref, digest: top.digest, mediaType: parsed.mediaType, isIndex: true, platforms: found };
}

// The Dockerfile builder's edge: write the build context (with a pip wheel when the base image's
// Python has no pip), check that docker has buildx when the command needs it, run the engine
// (docker buildx or buildah) with its output streamed line by line, and hand back the deps image
// it pushed, read from the registry like any other. What to write and which commands to run is
// dockerfile.ts's.
/** How many of the build's last lines an error carries (and the job summary shows). */
const LOG_TAIL_LINES = 20;
/** What to do when docker has no buildx: said by the preflight check and by a failed build. */
const BUILDX_HINT = 'install the buildx plugin (the docker-buildx or docker-buildx-plugin package), use docker/setup-buildx-action in the workflow, ' +
    'or build with buildah: dockerfile-command = "buildah bud"';
/** Run one command; every output line to `onLine`; the exit code and the last lines. */
function runStreaming(argv, env, cwd, onLine) {
    return new Promise((resolve) => {
        const tail = [];
        const child = node_child_process.spawn(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        const feed = (stream) => {
            let rest = '';
            stream.setEncoding('utf8');
            stream.on('data', (chunk) => {
                const lines = (rest + chunk).split(/\r?\n/);
                rest = lines.pop() ?? '';
                for (const l of lines)
                    push(l);
            });
            stream.on('end', () => rest && push(rest));
        };
        const push = (line) => {
            onLine(line);
            tail.push(line);
            if (tail.length > LOG_TAIL_LINES)
                tail.shift();
        };
        feed(child.stdout);
        feed(child.stderr);
        child.on('error', (e) => {
            push(`${argv[0]}: ${e.code === 'ENOENT' ? 'not found' : e.message}`);
            resolve({ code: 127, tail });
        });
        child.on('close', (code) => resolve({ code: code ?? 1, tail }));
    });
}
/** `docker buildx build \u2026` / `buildah bud \u2026`, as the log shows a command (arguments quoted when needed). */
function shown(argv) {
    return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shQuote(a))).join(' ');
}
/**
 * When `command` is `docker buildx \u2026`, check that the docker found has the buildx plugin
 * (`docker buildx version`), so that a missing plugin says so rather than failing the build with
 * "unknown flag". A docker that is not found at all is left to the build, which says to install it.
 */
async function checkBuildx(command, env, cwd, variant) {
    if (engineOf(command) !== 'docker' || command[1] !== 'buildx')
        return;
    const argv = [command[0], 'buildx', 'version'];
    const { code, tail } = await runStreaming(argv, env, cwd, () => undefined);
    if (code === 0 || code === 127)
        return;
    throw new DockerfileError(`${variant}: the Dockerfile builder runs ${command.join(' ')}, and ${command[0]} has no buildx plugin (${shown(argv)}: ${tail.find((l) => l.trim() !== '') ?? `exit ${code}`})`, { keyPath: 'tool.fast-build.dockerfile-command' }, BUILDX_HINT);
}
/**
 * Put the newest pip wheel of `index` that runs on `python` into `dir`, its sha256 checked against
 * the index page; the file name. A DockerfileError naming the index when it has none or fails.
 */
async function fetchPipWheel(index, python, dir, cache, why) {
    const listing = new PackageIndex(index);
    const fix = `use a base image whose Python has pip, or set index-url to an index that serves pip wheels (${why})`;
    let files;
    try {
        files = await listing.files('pip');
    }
    catch (e) {
        throw new DockerfileError(`${why}, and pip cannot be listed on the index ${listing.url}: ${describeError(e)}`, { keyPath: 'tool.fast-build.index-url' }, fix);
    }
    const wheel = newestPipWheel(files, pythonFull(python));
    if (!wheel)
        throw new DockerfileError(`${why}, and the index ${listing.url} lists no pip wheel (final, not yanked, with a sha256) for Python ${pythonFull(python)}`, { keyPath: 'tool.fast-build.index-url' }, fix);
    const version = /^pip-([^-]+)-/.exec(wheel.filename)[1];
    let path;
    try {
        const [fetched] = await fetchArtifacts([
            {
                name: normalizeName('pip'),
                version,
                file: {
                    name: wheel.filename,
                    url: wheel.url,
                    path: null,
                    hashes: { sha256: wheel.hashes['sha256'].toLowerCase() },
                    size: wheel.size ?? null,
                    kind: 'wheel'
                },
                index
            }
        ], { cache });
        path = fetched.path;
    }
    catch (e) {
        throw new DockerfileError(`${why}, and ${wheel.filename} could not be fetched from the index ${listing.url}: ${describeError(e)}`, { keyPath: 'tool.fast-build.index-url' }, fix);
    }
    node_fs.mkdirSync(dir, { recursive: true });
    node_fs.copyFileSync(path, node_path.join(dir, wheel.filename));
    return wheel.filename;
}
/**
 * The build context of the variant (its pins, and a pip wheel when the generated Dockerfile needs
 * one), and the Dockerfile to build it with.
 */
async function writeContext(v, settings, o, say) {
    const context = node_path.join(o.workDir, 'dockerfile', `${v.name}-${v.shortHash}`);
    node_fs.rmSync(context, { recursive: true, force: true });
    node_fs.mkdirSync(context, { recursive: true });
    for (const f of contextFiles(v.name, v.platforms, o.plan.lock.path))
        node_fs.writeFileSync(node_path.join(context, f.name), f.text);
    // Always there (the generated Dockerfile copies it); holds a pip wheel only when needed.
    node_fs.mkdirSync(node_path.join(context, PIP_CONTEXT_DIR));
    if (settings.path !== null)
        return {
            context,
            file: node_path.isAbsolute(settings.path) ? settings.path : node_path.join(o.plan.project.dir, settings.path)
        };
    const file = node_path.join(context, 'Dockerfile');
    node_fs.writeFileSync(file, settings.text);
    // Only the generated Dockerfile knows the wheel; a project's own Dockerfile brings its pip.
    if (o.python && !o.python.hasPip) {
        const index = o.mirror ?? indexConfigFor(lockIndexUrl(v.platforms), null, o.env);
        const name = await fetchPipWheel(index, v.python, node_path.join(context, PIP_CONTEXT_DIR), o.cache ?? new ArtifactCache(CacheLayout.default(o.env).artifacts), `${v.name}: the base image's ${o.python.interpreter} has no pip`);
        say(`the base image's ${o.python.interpreter} has no pip: ${name} goes into the build context`);
    }
    return { context, file };
}
/** Build and push the variant's deps image `tag` with its Dockerfile; the image as pushed. */
async function buildDepsWithDockerfile(v, settings, tag, o) {
    const say = o.onProgress ?? (() => undefined);
    if (o.store.name.startsWith('oci:'))
        throw new DockerfileError(`${v.name}: the Dockerfile builder pushes its deps image to a registry, and ${o.store.name} is an OCI layout`, { keyPath: 'tool.fast-build.builder' }, 'build to a registry (--registry HOST/REPO), or use the wheels builder for this variant');
    const { context, file } = await writeContext(v, settings, o, say);
    const ref = `${o.store.name}:${tag}`;
    const platforms = v.platforms.map((p) => p.platform);
    const commands = engineCommands({
        settings,
        file,
        context,
        variant: v.name,
        buildArgs: buildArgsFor({
            settings,
            variant: v.name,
            base: o.base,
            platforms,
            ...(o.python ? { python: o.python.interpreter } : {})
        }),
        platforms,
        tag: ref,
        insecure: isLoopback(parseImageReference(ref, 'image').host),
        githubCache: Boolean(o.env['ACTIONS_RUNTIME_TOKEN']) && engineOf(settings.command) === 'docker'
    });
    await checkBuildx(settings.command, o.env, context, v.name);
    const start = performance.now();
    for (const argv of commands) {
        say(`$ ${shown(argv)}`);
        const { code, tail } = await runStreaming(argv, o.env, context, (line) => say(line));
        if (code !== 0) {
            const noBuildx = engineOf(argv) === 'docker' && saysBuildxMissing(tail);
            throw new DockerfileError(`${v.name}: ${argv[0]} exited with ${code} building ${ref}${settings.path ? ` from ${settings.path}` : ''}${noBuildx ? `: ${argv[0]} has no buildx plugin` : ''}; its last lines:\n${tail.join('\n')}`, noBuildx
                ? { keyPath: 'tool.fast-build.dockerfile-command' }
                : settings.path
                    ? { file: settings.path }
                    : { keyPath: 'tool.fast-build.dockerfile' }, code === 127
                ? `install ${argv[0]} or set dockerfile-command (for instance "buildah bud")`
                : noBuildx
                    ? BUILDX_HINT
                    : 'fix the Dockerfile or the packages it installs (the full log is above)');
        }
    }
    const seconds = (performance.now() - start) / 1000;
    const image = await resolveDepsImage(o.store, tag, platforms);
    if (!image)
        throw new DockerfileError(`${v.name}: ${commands[0][0]} finished, but ${ref} is not in the registry`, { keyPath: 'tool.fast-build.dockerfile-command' }, 'check that the command pushes (docker buildx needs a builder that can push: docker/setup-buildx-action)');
    say(`deps image ${ref} built with the Dockerfile builder in ${seconds.toFixed(1)} s`);
    return {
        image,
        stats: emptyStats(),
        layers: [],
        notes: [],
        wheels: { total: 0, fetched: 0, downloaded: 0, bytesDownloaded: 0, restored: 0, downloadedSha256: [] }
    };
}

const DEFAULT_BUCKETS = 8;
/** FNV-1a (32 bit): a stable bucket for a name, the same on every machine and run. */
function nameBucket(name, buckets) {
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) {
        h ^= name.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % buckets;
}
function byName(a, b) {
    return a.name < b.name ? -1 : a.name > b.name ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
/** What a group's packages install, in bytes. */
const groupSize = (g) => g.packages.reduce((n, p) => n + p.installedSize, 0);
function planLayers(packages, opts) {
    const buckets = opts.buckets ?? DEFAULT_BUCKETS;
    const notes = [];
    const heavy = [];
    const light = new Map();
    for (const p of [...packages].sort(byName)) {
        if (p.installedSize > opts.heavyBytes) {
            heavy.push({ packages: [p], kind: 'heavy', label: `${p.name} ${p.version ?? ''}`.trim() });
            continue;
        }
        const signature = [...p.variants].sort().join(',');
        let sig = light.get(signature);
        if (!sig)
            light.set(signature, (sig = { shared: p.variants.length, members: new Map() }));
        const b = nameBucket(p.name, buckets);
        sig.members.set(b, [...(sig.members.get(b) ?? []), p]);
    }
    const ordered = [];
    for (const h of heavy) {
        ordered.push({ shared: h.packages[0].variants.length, heavy: true, sort: h.packages[0].name, group: h });
    }
    for (const [signature, sig] of light) {
        for (const [b, members] of sig.members) {
            ordered.push({
                shared: sig.shared,
                heavy: false,
                sort: `${signature}#${String(b).padStart(3, '0')}`,
                group: {
                    packages: members,
                    kind: 'group',
                    label: `${members.length} package${members.length === 1 ? '' : 's'} (${signature || 'no variant'}, bucket ${b})`
                }
            });
        }
    }
    ordered.sort((a, b) => a.shared !== b.shared
        ? b.shared - a.shared
        : a.heavy !== b.heavy
            ? a.heavy
                ? -1
                : 1
            : a.sort < b.sort
                ? -1
                : a.sort > b.sort
                    ? 1
                    : 0);
    let groups = ordered.map((o) => o.group);
    if (opts.budget < 1 && groups.length > 0) {
        throw new RangeError(`no room for package layers (budget ${opts.budget})`);
    }
    if (groups.length > opts.budget) {
        const before = groups.length;
        // Merge the adjacent pair with the smallest combined size until the budget holds; light
        // pairs before any pair with a heavy package, so heavy packages stay alone as long as possible.
        while (groups.length > opts.budget) {
            let best = -1;
            let bestCost = Infinity;
            for (let i = 0; i + 1 < groups.length; i++) {
                const a = groups[i];
                const b = groups[i + 1];
                const cost = groupSize(a) +
                    groupSize(b) +
                    (a.kind === 'heavy' || b.kind === 'heavy' ? Number.MAX_SAFE_INTEGER / 2 : 0);
                if (cost < bestCost) {
                    bestCost = cost;
                    best = i;
                }
            }
            const a = groups[best];
            const b = groups[best + 1];
            const packagesMerged = [...a.packages, ...b.packages];
            groups = [
                ...groups.slice(0, best),
                { packages: packagesMerged, kind: 'merged', label: `${packagesMerged.length} packages (merged)` },
                ...groups.slice(best + 2)
            ];
        }
        notes.push(`${before} package layers would exceed the layer budget; merged into ${groups.length} (raise max-layers to keep more apart)`);
    }
    return { groups, notes };
}

// A blob uploaded while it is made, as docker push streams layers: each piece goes to the store as
// it is written (LayerOptions.onChunk), and the upload is done when the blob is. On any trouble
// with the stream it is dropped quietly, and the blob goes up the ordinary, retried way instead
// (`commit` answers null). The source layer and the deps layers built on a bump use it.
/**
 * `what` names the blob in the message of a failed stream. `abandoned` says when nobody wants
 * the blob any more. `ask`: whether the store is asked first if it has the blob already (see
 * BlobStream.commit); a blob made just now and sent already need not be.
 */
function streamedUpload(store, what, opts = {}) {
    const abandoned = opts.abandoned ?? (() => false);
    // The upload session opens while the first blocks are tarred and compressed.
    const opening = store.beginBlob?.().catch(() => null) ?? Promise.resolve(null);
    let streaming;
    const drop = async () => {
        if (streaming === undefined)
            streaming = await opening;
        await streaming?.abort().catch(() => undefined);
        streaming = null;
    };
    const onChunk = async (chunk) => {
        if (streaming === undefined)
            streaming = await opening;
        if (streaming && abandoned())
            await drop();
        if (!streaming)
            return;
        try {
            await streaming.write(chunk);
        }
        catch {
            await drop();
        }
    };
    const commit = async (desc, say) => {
        if (streaming === undefined)
            streaming = await opening;
        if (!streaming)
            return null;
        const s = streaming;
        return s.commit(desc, { ask: opts.ask ?? true }).catch(async (e) => {
            if (!abandoned())
                say(`streamed upload of ${what} failed (${describeError(e)}); it goes up again`);
            await s.abort().catch(() => undefined);
            return null;
        });
    };
    return { onChunk, commit, abort: drop };
}

// The full path: a variant's deps image built straight from the wheels its lock pins, without
// Docker. Choose the wheel per package and platform, fetch and verify it, group packages into
// layers, install each group's wheels straight into its layer (our installer, pip's layout, no
// staging tree on disk), write each layer once (content-addressed, cached across builds), and
// push: base layers referenced (mounted, or copied across registries), package layers uploaded
// only when missing, then configs, manifests, the index, and the `deps-<variant>-<hash>` tag last.
const DEPS_CREATED = new Date(DEPS_MTIME * 1000).toISOString();
/** Part of every cached layer's key: changing how layers are written must not reuse old ones.
 * 3: the descriptor records what each wheel installed where (for the verification).
 * 4: big files of gzip layers carry their wheel's deflate data (oci/layer.ts). */
const LAYER_FORMAT = 5;
/** Packages the wheels builder cannot install, and why; the variant needs another builder. */
class WheelsUnavailableError extends FastBuildError {
    variant;
    problems;
    constructor(variant, problems) {
        super(`the wheels builder cannot build variant ${variant}: ${problems.length} package${problems.length === 1 ? ' has' : 's have'} no wheel to install\n` +
            problems.map((p) => `  - ${p.name} ${p.version ?? ''} (${p.platform}): ${p.reason}`).join('\n'), {}, 'build this variant with the Dockerfile builder (builder = "dockerfile"), or lock versions that publish wheels for these platforms');
        this.variant = variant;
        this.problems = problems;
    }
}
/** A path-sourced wheel (`source = { path = "wheels/x.whl" }`) is listed by file name alone. */
function fileLocation(c) {
    const f = c.file;
    if (f.path === null && f.url === null && c.pkg.source.kind === 'file')
        return { ...f, path: c.pkg.source.path };
    return f;
}
/** How to fetch a chosen wheel (what the lock says, and the index it came from). */
function fetchItemOf(ctx, c) {
    return { name: c.pkg.name, version: c.pkg.version, file: fileLocation(c), index: ctx.indexFor(c.pkg) };
}
/** At most this many wheels are fetched ahead of the deps image lookup (see prefetchWheels)... */
const PREFETCH_WHEELS = 3;
/** ...each at most this big, as the lock says (a lock without sizes: none fetched ahead). */
const PREFETCH_BYTES = 32 * 1024 * 1024;
/**
 * Start fetching the few wheels of a variant this machine lacks, while its deps image is still
 * being looked up, when the machine has (nearly) all the others: that is a bump after a build
 * here, whose deps image is then most likely missing, and whose rebuild waits first of all for
 * those wheels. If the image is found after all, those few downloads (bounded above) were for
 * nothing but the cache. The fetch belongs to the artifact cache (ArtifactCache.arriving: the
 * build's own fetch of those wheels waits for it); a failure is the build's to meet, when it
 * fetches them itself.
 */
function prefetchWheels(v, ctx) {
    const unique = new Map();
    for (const p of v.platforms) {
        const { chosen, problems } = ctx.wheelsOf(p);
        if (problems.length > 0)
            return;
        for (const c of chosen)
            unique.set(c.sha256, c);
    }
    const missing = [...unique.values()].filter((c) => !ctx.cache.has(c.sha256) && !ctx.cache.arriving(c.sha256));
    if (missing.length === 0 || missing.length > PREFETCH_WHEELS)
        return;
    if (unique.size - missing.length < 4 * missing.length)
        return;
    if (missing.some((c) => c.file.size === null || c.file.size > PREFETCH_BYTES))
        return;
    handled(fetchArtifacts(missing.map((c) => fetchItemOf(ctx, c)), { cache: ctx.cache, mirror: ctx.mirror, baseDir: ctx.lockDir }));
}
/** The unpacked size recorded by an earlier build (kept in the Actions cache's layer index). */
function knownSize(sha256, paths) {
    const memo = paths.unpackedSize(sha256);
    if (!node_fs.existsSync(memo))
        return null;
    const text = node_fs.readFileSync(memo, 'utf8');
    const n = Number(text);
    return text !== '' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}
/**
 * Bytes a wheel unpacks to (its zip directory's sizes): what layering weighs packages by. Kept
 * under the work directory by the wheel's digest, so a rebuild does not read every wheel again.
 */
async function unpackedSize(path, filename, sha256, paths) {
    const known = knownSize(sha256, paths);
    if (known !== null)
        return known;
    const memo = paths.unpackedSize(sha256);
    const zip = await ZipReader.open(path).catch((e) => {
        if (e instanceof WheelError)
            throw new WheelError(e.message, filename, e.hint ?? '', e.entry);
        throw e;
    });
    let size;
    try {
        size = zip.entries.reduce((n, e) => n + e.size, 0);
    }
    finally {
        await zip.close();
    }
    node_fs.mkdirSync(paths.unpackedSizes, { recursive: true });
    // Written aside and renamed, so a concurrent build never reads half a number.
    const tmp = `${memo}.${node_crypto.randomBytes(4).toString('hex')}.tmp`;
    node_fs.writeFileSync(tmp, String(size));
    node_fs.renameSync(tmp, memo);
    return size;
}
function plural(n, word) {
    return `${n} ${word}${n === 1 ? '' : 's'}`;
}
function layoutKey(layout) {
    return node_crypto.createHash('sha256').update(JSON.stringify(layout)).digest('hex').slice(0, 16);
}
/** A layer cache key: the hash of what makes the bytes, with the layer format and layout. */
function cacheKey(layout, fields) {
    const made = { format: LAYER_FORMAT, layout: layoutKey(layout), mtime: DEPS_MTIME, ...fields };
    return node_crypto.createHash('sha256').update(JSON.stringify(made)).digest('hex');
}
/** The layer cache's key for a layer of these wheels: everything that makes its bytes. */
function layerKeyOf(sha256s, layout, compression) {
    return cacheKey(layout, {
        wheels: [...sha256s].sort(),
        // Absent for gzip, so the keys of layers cached before zstd existed stay valid.
        ...(compression === 'gzip' ? {} : { compression })
    });
}
/** The key of a wheel's segment (for a layout and compression): where the segment index points. */
function segmentKeyOf(sha256, layout, compression) {
    return cacheKey(layout, { wheel: sha256, compression });
}
const isCount = (n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
/**
 * The segment of an earlier layer that holds this wheel's files, found through the segment index
 * and checked against that layer's descriptor. Anything torn or foreign is passed over (the wheel
 * is installed instead).
 */
function segmentSource(sha256, layout, compression, paths, known) {
    const index = paths.segmentIndex(segmentKeyOf(sha256, layout, compression));
    if (!node_fs.existsSync(index))
        return null;
    let layerKey;
    try {
        layerKey = JSON.parse(node_fs.readFileSync(index, 'utf8')).layer;
    }
    catch {
        return null;
    }
    if (typeof layerKey !== 'string' || !/^[0-9a-f]{64}$/.test(layerKey))
        return null;
    const layer = known(layerKey);
    if (!layer || !Array.isArray(layer.meta.segments))
        return null;
    const r = layer.meta.segments.find((x) => x?.wheel === sha256);
    if (!r ||
        !isCount(r.offset) ||
        !isCount(r.length) ||
        !isCount(r.crc32) ||
        !isCount(r.tarSize) ||
        r.offset + r.length > layer.meta.size ||
        !Array.isArray(r.paths) ||
        !r.paths.every((p) => typeof p === 'string') ||
        typeof r.dist?.name !== 'string')
        return null;
    return { layerKey, known: layer, record: r };
}
/** The segment to copy, from the layer blob in `file`. */
function reusedSegment(r, file) {
    return {
        copy: { file, offset: r.offset, length: r.length, crc32: r.crc32, tarSize: r.tarSize },
        paths: r.paths,
        dist: r.dist
    };
}
/** Point each wheel's segment index at the layer that now holds its files. */
async function recordSegments(layerKey, segments, layout, compression, paths) {
    // On the thread pool: a bucket's dozens of small files, written one by one on the main
    // thread, held up the requests that finish a bump's image.
    await Promise.all(segments.map(async (s) => {
        const index = paths.segmentIndex(segmentKeyOf(s.wheel, layout, compression));
        // Written aside and renamed, so a concurrent build never reads half of it.
        const tmp = `${index}.${node_crypto.randomBytes(4).toString('hex')}.tmp`;
        await promises.writeFile(tmp, JSON.stringify({ layer: layerKey }));
        await promises.rename(tmp, index);
    }));
}
/**
 * The compression a deps layer under this manifest family gets: Docker schema 2 manifests carry
 * gzip layers only, so on a base image with such a manifest the deps layers stay gzip.
 */
function effectiveCompression(manifestType, wanted) {
    return manifestType === DOCKER_MANIFEST ? 'gzip' : wanted;
}
function knownLayer(key, compression, paths) {
    const meta = paths.layerDescriptor(key);
    if (!node_fs.existsSync(meta))
        return null;
    let m;
    try {
        m = JSON.parse(node_fs.readFileSync(meta, 'utf8'));
    }
    catch {
        return null; // a torn or foreign file: build the layer again
    }
    if (typeof m.digest !== 'string' ||
        typeof m.diffId !== 'string' ||
        typeof m.size !== 'number' ||
        !Array.isArray(m.dists))
        return null;
    const blob = paths.layerBlob(layerBlobName(key, compression));
    return { meta: m, file: node_fs.existsSync(blob) && node_fs.statSync(blob).size === m.size ? blob : null };
}
/** Make the base image's blobs present in the target: mount within a registry, copy otherwise. */
async function placeBaseBlobs(ctx, descriptors, stats) {
    const { store } = ctx;
    const source = ctx.base.store;
    const sameRegistry = store.mountable && source.mountable && store.mountable.host === source.mountable.host;
    for (const d of descriptors) {
        if (await store.blobExists(d.digest)) {
            countBlob(stats, 'exists', d.size);
            continue;
        }
        if (sameRegistry && store.mountBlob && (await store.mountBlob(d, source.mountable.repository))) {
            countBlob(stats, 'mounted', d.size);
            continue;
        }
        ctx.onProgress?.(`copying base layer ${d.digest.slice(7, 19)} (${formatBytes(d.size)}) from ${source.name}`);
        const data = await source.openBlob(d.digest);
        countBlob(stats, await store.putBlob(d, data), d.size);
    }
}
/** The history entry of a deps layer: the packages it installs. */
function historyOf(packages) {
    const names = packages.map((c) => `${c.name}==${c.version ?? '?'}`);
    return {
        created: DEPS_CREATED,
        created_by: `fast-build: ${names.length > 12 ? `${names.slice(0, 12).join(' ')} \u2026and ${names.length - 12} more` : names.join(' ')}`,
        comment: 'fast-build'
    };
}
/** The deps image's config, besides its layers: the base image's, with its labels added. */
function depsConfigPatch(variant, base, baseConfig, resolved) {
    return {
        created: DEPS_CREATED,
        config: {
            ...(baseConfig.config ?? {}),
            Labels: sortedRecord({
                ...(baseConfig.config?.Labels ?? {}),
                'dev.fast-build.variant': variant.name,
                'dev.fast-build.hash': variant.hash,
                'org.opencontainers.image.base.name': base.reference,
                'org.opencontainers.image.base.digest': base.image.digest,
                [PYTHON_LABEL]: JSON.stringify(recordedPython(resolved))
            })
        }
    };
}
const since = (t) => (node_perf_hooks.performance.now() - t) / 1000;
/** Big downloads (torch is ~200 MB) say when they start and end; retries always say why. */
const BIG_DOWNLOAD = 16 * 1024 * 1024;
/** The wheels of one deps image: fetched (verified against the lock, cached by sha256) when needed. */
class WheelSet {
    ctx;
    busy;
    progress;
    /** By sha256: one entry per distinct wheel across the platforms. */
    unique = new Map();
    /** Where each fetched wheel is (in the artifact cache). */
    paths = new Map();
    downloaded = [];
    restored = 0;
    constructor(ctx, chosen, busy, progress) {
        this.ctx = ctx;
        this.busy = busy;
        this.progress = progress;
        for (const c of chosen)
            this.unique.set(c.sha256, c);
    }
    /** These wheels, fetched unless they are here already. */
    async fetch(shas) {
        const wanted = shas.filter((sha) => !this.paths.has(sha));
        if (wanted.length === 0)
            return;
        const start = node_perf_hooks.performance.now();
        try {
            await this.fetchWanted(wanted);
        }
        finally {
            this.busy.fetch += since(start);
        }
    }
    async fetchWanted(wanted) {
        const { ctx, progress } = this;
        const missing = wanted.filter((sha) => !ctx.cache.has(sha));
        if (missing.length > 0 && ctx.restoreWheels) {
            const n = await ctx.restoreWheels(missing).catch(() => 0);
            if (n > 0)
                progress(`restored ${plural(n, 'wheel')} from the cache`);
            this.restored += n;
        }
        const shaOf = new Map();
        const items = wanted.map((sha) => {
            const item = fetchItemOf(ctx, this.unique.get(sha));
            shaOf.set(item, sha);
            return item;
        });
        // Biggest first (the lock gives most sizes): the downloads end with small files in flight,
        // not with scipy or torch alone on one connection.
        const bySize = [...items].sort((a, b) => (b.file.size ?? 0) - (a.file.size ?? 0));
        const fetched = await fetchArtifacts(bySize, {
            cache: ctx.cache,
            mirror: ctx.mirror,
            baseDir: ctx.lockDir,
            onProgress: (e) => {
                // A wheel just downloaded is measured now, while the others still download.
                if (e.kind === 'done')
                    this.measure(shaOf.get(e.item), e.path);
                if (e.kind === 'start' && (e.total ?? 0) >= BIG_DOWNLOAD)
                    progress(`downloading ${e.item.file.name} (${formatBytes(e.total)})`);
                else if (e.kind === 'done' && e.bytes >= BIG_DOWNLOAD)
                    progress(`downloaded ${e.item.file.name} in ${(e.ms / 1000).toFixed(1)} s`);
                else if (e.kind === 'retry')
                    progress(`${e.item.file.name}: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)} s`);
            }
        });
        for (const f of fetched)
            this.paths.set(f.sha256, f.path);
        const now = fetched.filter((f) => !f.cached);
        this.downloaded = [...this.downloaded, ...now];
        if (now.length) {
            progress(`downloaded ${plural(now.length, 'wheel')} (${formatBytes(now.reduce((n, f) => n + f.size, 0))}), ${fetched.length - now.length} from the cache`);
        }
    }
    /** Unpacked sizes being read (from each wheel's zip directory), by digest. */
    measuring = new Map();
    /** The wheel's unpacked size, read once (a download's end starts it; `sizes` waits for it). */
    measure(sha, path) {
        let n = this.measuring.get(sha);
        if (!n) {
            n = handled(unpackedSize(path, this.unique.get(sha).file.name, sha, this.ctx.cacheLayout));
            this.measuring.set(sha, n);
        }
        return n;
    }
    /**
     * Sizes (what layering weighs packages by): known from earlier builds, else read from the
     * wheel, which is then fetched.
     */
    async sizes() {
        const sizes = new Map();
        for (const sha of this.unique.keys()) {
            const n = knownSize(sha, this.ctx.cacheLayout);
            if (n !== null)
                sizes.set(sha, n);
        }
        const unknown = [...this.unique.keys()].filter((sha) => !sizes.has(sha));
        await this.fetch(unknown);
        await Promise.all(unknown.map(async (sha) => sizes.set(sha, await this.measure(sha, this.paths.get(sha)))));
        return sizes;
    }
    member(sha) {
        const c = this.unique.get(sha);
        return {
            sha256: sha,
            path: this.paths.get(sha),
            filename: c.file.name,
            label: `${c.pkg.name} ${c.pkg.version ?? ''}`.trim()
        };
    }
    report() {
        const downloaded = this.downloaded;
        return {
            total: this.unique.size,
            fetched: this.paths.size,
            downloaded: downloaded.length,
            bytesDownloaded: downloaded.reduce((n, f) => n + f.size, 0),
            restored: this.restored,
            downloadedSha256: downloaded.map((f) => f.sha256)
        };
    }
}
/** Plan the layers of one platform, within what max-layers leaves after the base image's. */
function layeringOf(ctx, p, chosen, sizes, notes, resolved) {
    const platform = formatPlatform(p.platform);
    const baseImage = ctx.base.image.platforms.find((b) => b.platform.architecture === p.platform.architecture);
    const budget = ctx.maxLayers - baseImage.manifest.layers.length - 1;
    if (budget < 1 && chosen.length > 0) {
        throw new FastBuildError(`base image ${ctx.base.reference} has ${baseImage.manifest.layers.length} layers, which leaves no room under max-layers ${ctx.maxLayers}`, {}, 'raise max-layers under [tool.fast-build] (Docker refuses images past about 125 layers)');
    }
    const candidates = chosen.map((c) => ({
        key: c.sha256,
        name: c.pkg.name,
        version: c.pkg.version,
        installedSize: sizes.get(c.sha256),
        variants: ctx.sharing(p.platform, c.sha256)
    }));
    const layering = planLayers(candidates, { budget, heavyBytes: ctx.heavyBytes });
    notes.push(...layering.notes.map((n) => `${platform}: ${n}`));
    const wanted = ctx.compression ?? 'gzip';
    const compression = effectiveCompression(baseImage.manifest.mediaType, wanted);
    if (compression !== wanted)
        notes.push(`${platform}: deps layers are gzip, not ${wanted}: base image ${ctx.base.reference} has a Docker schema 2 manifest, which has no zstd layers`);
    return { p, platform, baseImage, layering, resolved, compression };
}
const groupShas = (g) => g.packages.map((c) => c.key);
/**
 * A layer rebuilt from the one before (a bump) whose wheels install at most this much streams as
 * it is written: the upload is done when the build is, which is what a bump waits for. A bigger
 * one goes up from its file, in chunks retried one by one (a stream that fails is sent again
 * whole).
 */
const STREAMED_LAYER_BYTES = 64 * 1024 * 1024;
/**
 * The layers of one deps image, each made once: nothing to do when the layer cache knows it (the
 * compressed layer is here, or only its descriptor is, as the Actions cache keeps descriptors, and
 * the registry has the blob, checked, since a cache is a hint and the registry the truth);
 * otherwise its wheels, all fetched together, and a build. Two layers are built at once: each
 * inflates, hashes and tars on this thread while its compression runs on the thread pool.
 */
class LayerJobs {
    ctx;
    wheels;
    busy;
    progress;
    jobs = new Map();
    layers = new Map();
    layerLimit = limit(2);
    records = [];
    /**
     * Each layer descriptor read once: every wheel of a bucket to rebuild names the same layer
     * before, whose descriptor lists every file of the bucket (tens of KB of JSON).
     */
    descriptors = new Map();
    constructor(ctx, wheels, busy, progress) {
        this.ctx = ctx;
        this.wheels = wheels;
        this.busy = busy;
        this.progress = progress;
    }
    jobOf(shas, layout, compression) {
        const key = layerKeyOf(shas, layout, compression);
        let job = this.jobs.get(key);
        if (!job) {
            job = {
                key,
                compression,
                known: this.known(key, compression),
                inRegistry: false,
                segments: new Map()
            };
            this.jobs.set(key, job);
        }
        return job;
    }
    known(key, compression) {
        const id = `${key} ${compression}`;
        if (!this.descriptors.has(id))
            this.descriptors.set(id, knownLayer(key, compression, this.ctx.cacheLayout));
        return this.descriptors.get(id);
    }
    ready(j) {
        return j.known !== null && (j.known.file !== null || j.inRegistry);
    }
    /** What every layer needs, found out, and the wheels of the layers to build fetched. */
    async prepare(platforms) {
        const each = (f) => {
            for (const { layering, resolved, compression } of platforms)
                for (const g of layering.groups)
                    f(groupShas(g), this.jobOf(groupShas(g), resolved.layout, compression), resolved.layout);
        };
        each(() => undefined);
        await Promise.all([...this.jobs.values()]
            .filter((j) => j.known && !j.known.file)
            .map(async (j) => {
            j.inRegistry = await this.ctx.store.blobExists(j.known.meta.digest);
        }));
        // A layer to build copies what earlier layers hold of its wheels; only the rest are fetched.
        const sources = [];
        each((shas, job, layout) => {
            if (this.ready(job))
                return;
            for (const sha of shas)
                sources.push({
                    sha,
                    job,
                    source: segmentSource(sha, layout, job.compression, this.ctx.cacheLayout, (key) => this.known(key, job.compression))
                });
        });
        const blobs = new Map();
        await Promise.all(sources.map(async ({ sha, job, source }) => {
            if (!source)
                return;
            let file = blobs.get(source.layerKey);
            if (!file)
                blobs.set(source.layerKey, (file = this.layerBlob(source)));
            const at = await file;
            if (at)
                job.segments.set(sha, reusedSegment(source.record, at));
        }));
        const copied = sources.filter(({ sha, job }) => job.segments.has(sha)).length;
        if (copied > 0)
            this.progress(`${plural(copied, 'package')} to copy from earlier layers, not install again`);
        await this.wheels.fetch(sources.filter(({ sha, job }) => !job.segments.has(sha)).map(({ sha }) => sha));
    }
    /**
     * An earlier layer's blob, to copy segments from: here when this machine built it; else read
     * from the store, which has it when the deps image before this one was pushed there (a runner
     * keeps only the descriptors, in the Actions cache). One compressed layer costs less to read
     * than its wheels cost to fetch and install. Null when neither has it.
     */
    async layerBlob(source) {
        if (source.known.file)
            return source.known.file;
        const { digest, size } = source.known.meta;
        try {
            if (!(await this.ctx.store.blobExists(digest)))
                return null;
            const start = node_perf_hooks.performance.now();
            const { file } = await this.ctx.store.openBlob(digest);
            this.busy.fetch += since(start);
            this.progress(`read layer ${digest.slice(7, 19)} (${formatBytes(size)}) from ${this.ctx.store.name} to copy from`);
            return file;
        }
        catch {
            return null; // the wheels are installed instead
        }
    }
    /** How many layers prepare() found are to build (each built once, whatever shares it). */
    toBuild() {
        return [...this.jobs.values()].filter((j) => !this.ready(j)).length;
    }
    /** Once the segment indexes of the layers built are written. */
    async recorded() {
        await Promise.all(this.records);
    }
    /**
     * The layer of these wheels (a layer shared by two platforms, of pure wheels, is built once).
     * `stream`: small enough to go up as it is written, which it does when it is built copying from
     * the layer before (see STREAMED_LAYER_BYTES).
     */
    layerFor(shas, layout, compression, stream = false) {
        const job = this.jobOf(shas, layout, compression);
        let built = this.layers.get(job.key);
        if (!built) {
            built = this.ready(job)
                ? Promise.resolve({ ...job.known.meta, file: job.known.file, built: false })
                : handled(this.layerLimit(async () => {
                    const start = node_perf_hooks.performance.now();
                    try {
                        const parts = shas.map((sha) => ({
                            sha256: sha,
                            // A wheel whose segment cannot be copied after all is fetched then.
                            wheel: async () => {
                                await this.wheels.fetch([sha]);
                                return this.wheels.member(sha);
                            },
                            segment: job.segments.get(sha) ?? null
                        }));
                        const paths = this.ctx.cacheLayout;
                        // Streamed only when it copies from the layer before (a bump): its bytes are then
                        // surely new to the registry, which need not be asked. A layer built from nothing
                        // (an empty cache) may well be there already: asked first, it is not sent twice.
                        let upload = stream && job.segments.size > 0
                            ? streamedUpload(this.ctx.store, 'a deps layer', { ask: false })
                            : null;
                        const built = await buildLayerFile(job.key, parts, layout, compression, paths, upload?.onChunk).catch(async (e) => {
                            // The build failed: so does what was streamed of it.
                            await upload?.abort();
                            throw e;
                        });
                        if (upload && !built.teed) {
                            // Written again after a first try failed: not what was streamed.
                            await upload.abort();
                            upload = null;
                        }
                        // Where each wheel's segment is serves the next build: written once this layer's
                        // upload is under way (before the image is done: see recorded()).
                        this.records.push(handled(new Promise((next) => setImmediate(next)).then(() => recordSegments(job.key, built.segments, layout, compression, paths))));
                        return {
                            ...built,
                            streams: upload !== null,
                            streamed: () => {
                                const u = upload;
                                upload = null;
                                return u;
                            }
                        };
                    }
                    finally {
                        this.busy.layerBuild += since(start);
                    }
                }));
            this.layers.set(job.key, built);
        }
        return built;
    }
}
/** Indexes of the groups, the one that installs most first (ties in layer order). */
function biggestFirst(groups) {
    const bytes = groups.map(groupSize);
    return groups.map((_, i) => i).sort((a, b) => bytes[b] - bytes[a] || a - b);
}
/**
 * One platform's base blobs placed and layers built, each pushed as it is built (two pushes at a
 * time, overlapping the builds). Returns once every layer is built and the base blobs are in
 * place: the config can be written while the last layers still upload.
 */
async function pushPlatformLayers(ctx, pl, layers, o) {
    const { platform, baseImage, layering, resolved, compression } = pl;
    // The base image's blobs are placed while the layers build (only the manifest needs them).
    const tBase = node_perf_hooks.performance.now();
    const base = handled(placeBaseBlobs(ctx, baseImage.manifest.layers, o.stats).finally(() => (o.busy.baseBlobs += since(tBase))));
    const mediaType = layerMediaType(baseImage.manifest.mediaType, compression);
    // Layers are built biggest first (they wait for a slot in this order): the last layer to start
    // is then a small one, not scipy or torch alone on a core while everything else is done.
    const built = [];
    const uploaded = [];
    for (const i of biggestFirst(layering.groups)) {
        const group = layering.groups[i];
        const stream = !!ctx.store.beginBlob && groupSize(group) <= STREAMED_LAYER_BYTES;
        built[i] = handled(layers.layerFor(groupShas(group), resolved.layout, compression, stream));
        uploaded[i] = handled(built[i].then(async (b) => {
            const desc = { mediaType, digest: b.digest, size: b.size };
            let tUp = node_perf_hooks.performance.now();
            const done = (outcome) => {
                o.busy.upload += since(tUp);
                o.progress(`${platform}: layer ${i + 1}/${layering.groups.length} ${group.label}: ${formatBytes(b.size)}${b.built ? (b.reused ? ` (${b.reused} of ${group.packages.length} packages copied from an earlier layer)` : '') : ' (cached)'}, ${outcome}`);
                return outcome;
            };
            if (!b.file)
                return done('exists');
            // A layer another platform's image shares goes up once: the others wait for it.
            const earlier = o.sent.get(desc.digest);
            if (earlier) {
                await earlier;
                return done('exists');
            }
            const sending = (async () => {
                // A cached layer the registry has is only asked about: the upload slots are for bytes
                // (behind a dozen such questions, a layer just built would wait a round trip each).
                if (!b.built && (await ctx.store.blobExists(desc.digest)))
                    return 'exists';
                // Streamed as it was built: only finished here (else it goes up from its file).
                const streamed = b.streamed?.();
                if (streamed) {
                    tUp = node_perf_hooks.performance.now();
                    const outcome = await streamed.commit(desc, o.progress);
                    if (outcome)
                        return outcome;
                }
                return o.pushLimit(async () => {
                    tUp = node_perf_hooks.performance.now();
                    return ctx.store.putBlob(desc, { file: b.file }, { fresh: b.built });
                });
            })();
            o.sent.set(desc.digest, handled(sending));
            return done(await sending);
        }));
    }
    const out = {
        added: [],
        dists: [],
        uploads: [],
        newLayer: false,
        reports: async () => Promise.all(layering.groups.map(async (group, i) => {
            const b = await built[i];
            return {
                platform,
                label: group.label,
                packages: group.packages.length,
                digest: b.digest,
                size: b.size,
                outcome: await uploaded[i],
                built: b.built,
                copied: b.reused ?? 0
            };
        }))
    };
    const listed = async () => {
        for (const [i, group] of layering.groups.entries()) {
            const b = await built[i];
            const descriptor = { mediaType, digest: b.digest, size: b.size };
            if (b.streams)
                out.newLayer = true;
            out.dists.push(...b.dists);
            out.uploads.push({ descriptor, outcome: uploaded[i] });
            out.added.push({ descriptor, diffId: b.diffId, history: historyOf(group.packages) });
        }
    };
    // A base blob that cannot be placed fails the image at once, not after the builds.
    await Promise.all([base, listed()]);
    return out;
}
/**
 * One platform's deps image: verified first (every package where the base image's Python reads,
 * every script's interpreter present: the image must work before it gets a config, a manifest or
 * a tag), then its config and manifest as an edit of the base image.
 */
function platformImage(variant, ctx, pl, layers, isIndex) {
    const { p, baseImage, resolved } = pl;
    verifyInstall({
        dists: layers.dists,
        layout: resolved.layout,
        resolved,
        what: `deps image of ${variant.name} (${pl.platform})`,
        ...(ctx.projectFile ? { file: ctx.projectFile } : {})
    });
    const edited = appendLayers({ manifest: baseImage.manifest, config: baseImage.config }, layers.added, depsConfigPatch(variant, ctx.base, baseImage.config, resolved));
    const platformEntry = baseImage.indexEntry?.platform ?? ociPlatform(p.platform);
    return {
        write: {
            // The config goes up while the layers finish uploading; the manifest waits for all of them.
            blobs: [
                {
                    descriptor: edited.configDescriptor,
                    data: edited.configBytes,
                    fresh: true,
                    // Its diff_ids name a layer the store cannot have: no question before it goes up.
                    ...(layers.newLayer ? { ask: false } : {})
                },
                ...layers.uploads
            ],
            bytes: edited.manifestBytes,
            mediaType: edited.manifestDescriptor.mediaType,
            ...(isIndex ? { platform: platformEntry } : {})
        },
        // What was pushed, as the fast path needs it (no need to read it back from the store).
        image: {
            platform: p.platform,
            indexEntry: isIndex ? { ...edited.manifestDescriptor, platform: platformEntry } : null,
            manifest: edited.manifest,
            manifestDigest: edited.manifestDescriptor.digest,
            config: edited.config
        }
    };
}
/** Where the time went (wall clock marks of the phases, and the busy times). */
function phasesOf(t, busy) {
    const fetchInLayers = busy.fetch - t.fetchBeforeLayers;
    const r2 = (n) => Math.round(n * 1000) / 1000;
    return {
        choose: r2(t.choose),
        fetch: r2(busy.fetch),
        sizes: r2(Math.max(0, t.sizesAndFetch - t.fetchBeforeLayers)),
        layers: r2(Math.max(0, t.layersWall - fetchInLayers)),
        layerBuild: r2(busy.layerBuild),
        upload: r2(busy.upload),
        baseBlobs: r2(busy.baseBlobs),
        manifests: r2(since(t.tTop)),
        total: r2(since(t.t0))
    };
}
async function buildDepsImage(variant, tag, ctx) {
    const progress = ctx.onProgress ?? (() => { });
    const t0 = node_perf_hooks.performance.now();
    const busy = { fetch: 0, layerBuild: 0, upload: 0, baseBlobs: 0 };
    const notes = [];
    // 1. A wheel for every package on every platform, or a precise refusal.
    const perPlatform = variant.platforms.map((p) => ({ plan: p, ...ctx.wheelsOf(p) }));
    const problems = perPlatform.flatMap((p) => p.problems);
    if (problems.length > 0)
        throw new WheelsUnavailableError(variant.name, problems);
    const choose = since(t0);
    // 2. Sizes, fetching the wheels whose size no earlier build recorded.
    const wheels = new WheelSet(ctx, perPlatform.flatMap((p) => p.chosen), busy, progress);
    progress(`${plural(wheels.unique.size, 'wheel')} to install`);
    const tSizes = node_perf_hooks.performance.now();
    const sizes = await wheels.sizes();
    const sizesAndFetch = since(tSizes);
    const tLayers = node_perf_hooks.performance.now();
    const fetchBeforeLayers = busy.fetch;
    // 3. The layers of every platform, planned; 4. what each needs (wheels fetched for those built).
    const resolved = await Promise.all(perPlatform.map(({ plan: p }) => ctx.layoutFor(p.platform)));
    const platforms = perPlatform.map(({ plan: p, chosen }, i) => layeringOf(ctx, p, chosen, sizes, notes, resolved[i]));
    const layers = new LayerJobs(ctx, wheels, busy, progress);
    await layers.prepare(platforms);
    // Every layer built and every config is a new blob: their upload sessions are opened now, so
    // that each goes up as soon as it is made (on a bump, the one layer built is the critical path).
    // Those no upload takes (a layer the registry had after all) the build's owner drops
    // (ImageStore.dropUploads).
    ctx.store.openUploads?.(layers.toBuild() + platforms.length);
    // 5. Per platform: base blobs, layers (built and pushed), its config and manifest.
    const stats = emptyStats();
    const reports = [];
    const writes = [];
    const images = [];
    const isIndex = variant.platforms.length > 1;
    const pushLimit = limit(2);
    // Fires once the loop below has set the first platform's layer builds going.
    if (ctx.onLayersBuilding)
        setImmediate(ctx.onLayersBuilding);
    const sent = new Map();
    const platformReports = [];
    for (const pl of platforms) {
        const pushed = await pushPlatformLayers(ctx, pl, layers, { pushLimit, busy, stats, progress, sent });
        platformReports.push(pushed.reports);
        const { write, image } = platformImage(variant, ctx, pl, pushed, isIndex);
        writes.push(write);
        images.push(image);
    }
    const layersWall = since(tLayers);
    const tTop = node_perf_hooks.performance.now();
    // 6. Configs, manifests, the index, and the tag last: only a complete image ever has the tag.
    const indexType = ctx.base.image.mediaType === DOCKER_MANIFEST_LIST ? DOCKER_MANIFEST_LIST : OCI_INDEX;
    const write = { manifests: writes, index: isIndex ? { mediaType: indexType } : null };
    const image = {
        ref: `${ctx.store.name}:${tag}`,
        ...describeImage(write),
        isIndex,
        platforms: images
    };
    const pushing = pushImage(ctx.store, write, [tag]);
    ctx.onImage?.(image, pushing);
    const pushed = await pushing;
    await layers.recorded();
    addStats(stats, pushed.stats);
    for (const r of platformReports)
        reports.push(...(await r()));
    const phases = phasesOf({ t0, choose, sizesAndFetch, fetchBeforeLayers, layersWall, tTop }, busy);
    return { image, stats, layers: reports, notes, phases, wheels: wheels.report() };
}

// The builders of a deps image behind one interface: the wheels builder (full-path.ts, no daemon)
// and the Dockerfile builder (dockerfile-build.ts, docker buildx or buildah). The plan says which
// one a variant takes (VariantPlan.builder); the build asks for it here and calls `build`.
function mirrorOf(ctx) {
    return ctx.mirrorUrl ? indexConfigFor(ctx.mirrorUrl, 'mirror', ctx.env) : null;
}
function wheelsBuilder(ctx) {
    const { plan } = ctx.planned;
    const indexes = namedIndexes(plan.project);
    // Where wheels come from: the same for a build and for a fetch ahead of one.
    const fetching = {
        wheelsOf: ctx.planned.wheelsOf,
        cache: ctx.artifacts,
        indexFor: (pkg) => pkg.source.kind === 'registry' && pkg.source.url
            ? indexConfigFor(pkg.source.url, pkg.source.name ?? indexNameFor(indexes, pkg.source.url), ctx.env)
            : null,
        mirror: mirrorOf(ctx),
        lockDir: node_path.join(plan.project.dir, node_path.dirname(plan.project.config.lock ?? 'pyproject.toml'))
    };
    return {
        kind: 'wheels',
        prefetch: (v) => prefetchWheels(v, fetching),
        build: async (v, tag, say, hooks = {}) => {
            // The base image's Python is found (read from its layers, on a first build) while the
            // wheels download; a failure there still fails the build, once the layout is wanted.
            const layouts = handled(ctx.sites.baseLayouts());
            return buildDepsImage(v, tag, {
                store: ctx.store,
                base: await ctx.sites.baseImage(),
                layoutFor: async (p) => (await layouts).get(formatPlatform(p)),
                ...fetching,
                projectFile: plan.project.file,
                cacheLayout: ctx.cache,
                sharing: ctx.planned.sharing,
                maxLayers: ctx.maxLayers ?? plan.project.config.maxLayers,
                heavyBytes: plan.project.config.heavyPackageMb * 1024 * 1024,
                compression: ctx.compression,
                ...(ctx.restoreWheels ? { restoreWheels: ctx.restoreWheels } : {}),
                ...hooks,
                onProgress: say
            });
        }
    };
}
function dockerfileBuilder(ctx) {
    return {
        kind: 'dockerfile',
        build: async (v, tag, say) => {
            if (v.builder.kind !== 'dockerfile')
                throw new Error(`variant ${v.name} is not planned for the Dockerfile builder`);
            say(`Dockerfile builder (${engineOf(v.builder.settings.command)}): ${v.builder.reason}`);
            return buildDepsWithDockerfile(v, v.builder.settings, tag, {
                plan: ctx.planned.plan,
                store: ctx.store,
                base: (await ctx.sites.baseImage()).pinned,
                workDir: ctx.cache.work,
                env: ctx.env,
                mirror: mirrorOf(ctx),
                cache: ctx.artifacts,
                ...(await ctx.sites.dockerfilePython(v)),
                onProgress: say
            });
        }
    };
}
/** The builder the plan chose for the variant. */
function depsBuilderFor(v, ctx) {
    return v.builder.kind === 'dockerfile' ? dockerfileBuilder(ctx) : wheelsBuilder(ctx);
}

// What the workflow run is, from the environment GitHub sets and the event payload file: pure
// over its inputs (env and a file reader), so tests give it any event.
/**
 * The pull request's head commit, from the event payload, when the run is for a pull request
 * (`pull_request`, `pull_request_target`, the review events): GITHUB_SHA is then a merge commit
 * (or the base branch's head) that nobody pushed, while checks and people talk about the head.
 * null for other events, or when the payload cannot be read or names no valid sha.
 */
function pullRequestHeadSha(env, readPayload = (p) => node_fs.readFileSync(p, 'utf8')) {
    if (!(env['GITHUB_EVENT_NAME'] ?? '').startsWith('pull_request'))
        return null;
    const path = env['GITHUB_EVENT_PATH'];
    if (!path)
        return null;
    try {
        const sha = JSON.parse(readPayload(path)).pull_request?.head?.sha;
        return typeof sha === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) ? sha : null;
    }
    catch {
        return null;
    }
}

// What git says about the checkout: the revision and its time (for labels and reproducible
// timestamps), whether the working tree differs from it, what `{sha}` in a tag becomes, and where
// the source lives (for org.opencontainers.image.source), with any credentials in remote URLs
// removed.
//
// Which revision: on a pull request, the head commit from the event payload (GITHUB_SHA and the
// default checkout are a merge commit that nobody pushed and checks do not show); else GITHUB_SHA;
// else HEAD. A working tree with uncommitted edits to tracked files is not that revision: its
// `{sha}` gets `-dirty`, so a tag never claims a commit that does not hold the image's source.
function git(dir, args) {
    return new Promise((resolve) => {
        node_child_process.execFile('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout.trim() || null));
    });
}
/**
 * Whether git could find a repository for `dir`: a `.git` (directory or file, as in worktrees and
 * submodules) in it or a parent, or GIT_DIR set. False means git would say "not a git repository".
 */
function mayBeRepository(dir, env = process.env) {
    if (env['GIT_DIR'])
        return true;
    for (let d = node_path.resolve(dir);; d = node_path.dirname(d)) {
        if (node_fs.existsSync(node_path.join(d, '.git')))
            return true;
        if (node_path.dirname(d) === d)
            return false;
    }
}
/** `git@github.com:org/repo.git` or `https://x-access-token:T@github.com/org/repo.git` \u2192 `https://github.com/org/repo`. */
function publicRepositoryUrl(remote) {
    const scp = /^(?:[\w.-]+@)?([\w.-]+):(?!\/\/)(.+?)(?:\.git)?\/?$/.exec(remote);
    if (scp && !remote.includes('://'))
        return `https://${scp[1]}/${scp[2]}`;
    try {
        const u = new URL(remote);
        if (!['http:', 'https:', 'ssh:', 'git:'].includes(u.protocol))
            return null;
        return `https://${u.hostname}${u.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '')}`;
    }
    catch {
        return null;
    }
}
/** `{sha}`: the revision's first 12 hex digits (`-dirty` when the tree differs), or `local`. */
function tagShaOf(revision, dirty) {
    if (!revision)
        return 'local';
    return `${revision.slice(0, 12)}${dirty ? '-dirty' : ''}`;
}
async function gitInfo(dir, env = process.env, readPayload) {
    // Three processes at once: HEAD's hash and commit time, the origin remote, and the tracked
    // files that differ from HEAD (untracked ones do not: git mode does not ship them, and a walk
    // of a tree with stray files is still that commit's source as far as a tag can say). None
    // outside a repository: starting a process from a big Node costs some 15 ms of this thread
    // each, for three answers of "not a git repository".
    const inRepo = mayBeRepository(dir, env);
    const [log, remote, status] = inRepo
        ? await Promise.all([
            git(dir, ['log', '-1', '--format=%H %ct']),
            git(dir, ['config', '--get', 'remote.origin.url']),
            git(dir, ['status', '--porcelain', '--untracked-files=no'])
        ])
        : [null, null, null];
    const [head, time] = (log ?? '').split(' ');
    const prHead = pullRequestHeadSha(env, readPayload);
    const revision = prHead || env['GITHUB_SHA'] || head || null;
    // A failing `git status` (no git, not a repository) also gives null: nothing to call dirty.
    const dirty = status !== null;
    const tagSha = tagShaOf(revision, dirty);
    const warnings = [];
    if (dirty)
        warnings.push(`the working tree has uncommitted changes to tracked files: {sha} is ${tagSha}, not the commit's ${tagShaOf(revision, false)}`);
    const server = env['GITHUB_SERVER_URL'];
    const repo = env['GITHUB_REPOSITORY'];
    return {
        revision,
        commitTime: time && /^\d+$/.test(time) ? Number(time) : null,
        sourceUrl: server && repo ? `${server.replace(/\/$/, '')}/${repo}` : remote ? publicRepositoryUrl(remote) : null,
        dirty,
        tagSha,
        warnings
    };
}
/**
 * The one timestamp of a build (tar mtimes, `created`): SOURCE_DATE_EPOCH when set (the
 * reproducible-builds convention), else the commit's time, else the epoch.
 */
function buildEpoch(info, env = process.env) {
    const sde = env['SOURCE_DATE_EPOCH'];
    if (sde && /^\d+$/.test(sde.trim()))
        return Number(sde.trim());
    return info.commitTime ?? 0;
}

var git$1 = /*#__PURE__*/Object.freeze({
    __proto__: null,
    buildEpoch: buildEpoch,
    gitInfo: gitInfo,
    mayBeRepository: mayBeRepository,
    publicRepositoryUrl: publicRepositoryUrl,
    tagShaOf: tagShaOf
});

// An OCI image-layout directory as a store: `oci-layout`, `index.json` naming tagged manifests
// (annotation org.opencontainers.image.ref.name, which skopeo and podman read as `oci:DIR:TAG`),
// and `blobs/sha256/<hex>`. Blobs are written to a temp file, checked, then renamed, so a blob
// that exists is whole; index.json is rewritten under a lock file by rename.
const REF_NAME = 'org.opencontainers.image.ref.name';
class LayoutError extends FastBuildError {
}
class LayoutStore {
    name;
    dir;
    constructor(dir) {
        this.dir = node_path.resolve(dir);
        // Absolute, so what the build prints (`pushed oci:DIR:TAG`) works from any directory.
        this.name = `oci:${this.dir}`;
    }
    blobPath(d) {
        return node_path.join(this.dir, 'blobs', digestAlgorithm(d), digestHex(d));
    }
    /** Create the layout files when missing; refuse a directory that is something else. */
    init() {
        // A layout this creates gets a `.gitignore` of `*`: one made inside a checkout (`--store
        // oci:./images`) then never shows in git status nor ships with git-tracked source.
        const created = !node_fs.existsSync(this.dir);
        node_fs.mkdirSync(node_path.join(this.dir, 'blobs', 'sha256'), { recursive: true });
        if (created)
            node_fs.writeFileSync(node_path.join(this.dir, '.gitignore'), '*\n');
        const marker = node_path.join(this.dir, 'oci-layout');
        if (node_fs.existsSync(marker)) {
            const v = JSON.parse(node_fs.readFileSync(marker, 'utf8'))
                .imageLayoutVersion;
            if (v !== '1.0.0')
                throw new LayoutError(`${marker}: unsupported imageLayoutVersion ${JSON.stringify(v)}`);
        }
        else {
            node_fs.writeFileSync(marker, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
        }
        if (!node_fs.existsSync(node_path.join(this.dir, 'index.json')))
            this.writeIndex({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    }
    readIndex() {
        const path = node_path.join(this.dir, 'index.json');
        if (!node_fs.existsSync(path))
            return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
        let o;
        try {
            o = JSON.parse(node_fs.readFileSync(path, 'utf8'));
        }
        catch (e) {
            throw new LayoutError(`${path} is not valid JSON: ${e.message}`, { file: path }, 'restore or delete the layout directory');
        }
        if (!Array.isArray(o.manifests))
            throw new LayoutError(`${path}: no manifests list`, { file: path });
        o.manifests = o.manifests.map((m, i) => parseDescriptor(m, `${path} manifests[${i}]`));
        return o;
    }
    writeIndex(index) {
        const path = node_path.join(this.dir, 'index.json');
        const tmp = `${path}.${node_crypto.randomBytes(6).toString('hex')}.tmp`;
        node_fs.writeFileSync(tmp, JSON.stringify(index));
        node_fs.renameSync(tmp, path);
    }
    /** Run `f` holding index.json.lock (bounded wait; a lock older than a minute is stale). */
    async locked(f) {
        const lock = node_path.join(this.dir, 'index.json.lock');
        const deadline = Date.now() + 30_000;
        for (;;) {
            try {
                node_fs.closeSync(node_fs.openSync(lock, 'wx'));
                break;
            }
            catch (e) {
                if (e.code !== 'EEXIST')
                    throw e;
                try {
                    if (Date.now() - node_fs.statSync(lock).mtimeMs > 60_000)
                        node_fs.rmSync(lock, { force: true });
                }
                catch {
                    // gone already
                }
                if (Date.now() > deadline)
                    throw new LayoutError(`${lock} is held by another build for over 30 s`, { file: lock }, 'remove the lock file if no other fast-build is running');
                await new Promise((r) => setTimeout(r, 20));
            }
        }
        try {
            return f();
        }
        finally {
            node_fs.rmSync(lock, { force: true });
        }
    }
    async blobExists(digest) {
        return node_fs.existsSync(this.blobPath(digest));
    }
    async putBlob(desc, data) {
        this.init();
        const path = this.blobPath(desc.digest);
        if (node_fs.existsSync(path))
            return 'exists';
        const tmp = `${path}.${node_crypto.randomBytes(6).toString('hex')}.tmp`;
        try {
            let got;
            if (Buffer.isBuffer(data)) {
                got = sha256$1(data);
                if (got === desc.digest)
                    node_fs.writeFileSync(tmp, data);
            }
            else {
                node_fs.copyFileSync(data.file, tmp);
                got = await fileDigest(tmp);
            }
            if (got !== desc.digest)
                throw new LayoutError(`blob content does not match ${desc.digest} (it is ${got})`);
            node_fs.renameSync(tmp, path);
        }
        finally {
            node_fs.rmSync(tmp, { force: true });
        }
        return 'uploaded';
    }
    /** A streamed blob: written to a temp file, renamed into place by `commit` once checked. */
    async beginBlob() {
        this.init();
        const tmp = node_path.join(this.dir, 'blobs', 'sha256', `upload.${node_crypto.randomBytes(6).toString('hex')}.tmp`);
        const file = await promises.open(tmp, 'w');
        const hash = node_crypto.createHash('sha256');
        let closed = false;
        const close = async () => {
            if (!closed) {
                closed = true;
                await file.close();
            }
        };
        return {
            write: async (chunk) => {
                hash.update(chunk);
                await file.write(chunk);
            },
            commit: async (desc) => {
                await close();
                const got = `sha256:${hash.digest('hex')}`;
                if (got !== desc.digest) {
                    node_fs.rmSync(tmp, { force: true });
                    throw new LayoutError(`streamed blob is ${got}, not ${desc.digest}`);
                }
                if (node_fs.existsSync(this.blobPath(desc.digest))) {
                    node_fs.rmSync(tmp, { force: true });
                    return 'exists';
                }
                node_fs.renameSync(tmp, this.blobPath(desc.digest));
                return 'uploaded';
            },
            abort: async () => {
                await close();
                node_fs.rmSync(tmp, { force: true });
            }
        };
    }
    async openBlob(digest) {
        const path = this.blobPath(digest);
        if (!node_fs.existsSync(path))
            throw new LayoutError(`${this.name}: blob ${digest} is missing`, { file: path });
        return { file: path };
    }
    async getBlob(digest) {
        const path = this.blobPath(digest);
        if (!node_fs.existsSync(path))
            throw new LayoutError(`${this.name}: blob ${digest} is missing`, { file: path });
        const bytes = node_fs.readFileSync(path);
        if (sha256$1(bytes) !== digest)
            throw new LayoutError(`${path} does not hold ${digest} (corrupted layout)`, { file: path });
        return bytes;
    }
    async getManifest(ref) {
        const index = this.readIndex();
        let desc;
        if (isDigestRef(ref)) {
            desc = index.manifests.find((m) => m.digest === ref);
            if (!desc && !node_fs.existsSync(this.blobPath(ref)))
                return null;
        }
        else {
            desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
            if (!desc)
                return null;
        }
        const digest = (desc?.digest ?? ref);
        const bytes = await this.getBlob(digest);
        const declared = JSON.parse(bytes.toString('utf8')).mediaType;
        return { bytes, mediaType: desc?.mediaType ?? declared ?? '', digest };
    }
    async putManifest(tag, bytes, mediaType) {
        if (tag !== null && !TAG_PATTERN.test(tag))
            throw new LayoutError(`invalid tag ${JSON.stringify(tag)}`);
        const digest = sha256$1(bytes);
        await this.putBlob({ mediaType, digest, size: bytes.length }, bytes);
        if (tag !== null) {
            await this.locked(() => {
                const index = this.readIndex();
                index.manifests = [
                    ...index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag),
                    { mediaType, digest, size: bytes.length, annotations: { [REF_NAME]: tag } }
                ];
                this.writeIndex(index);
            });
        }
        return digest;
    }
    /**
     * An image layout has no referrers API: a manifest with a `subject` is found only by reading
     * every manifest, which skopeo, podman and umoci do not do. Referring artifacts are tagged.
     */
    async supportsReferrers() {
        return false;
    }
    async listTags() {
        return this.readIndex()
            .manifests.map((m) => m.annotations?.[REF_NAME])
            .filter((t) => typeof t === 'string')
            .sort();
    }
}
function fileDigest(path) {
    return new Promise((resolve, reject) => {
        const h = node_crypto.createHash('sha256');
        node_fs.createReadStream(path)
            .on('data', (c) => h.update(c))
            .on('end', () => resolve(`sha256:${h.digest('hex')}`))
            .on('error', reject);
    });
}

// The base image a deps image is built on: any registry (Docker Hub, GHCR, a local one) or an
// OCI layout (`oci:DIR:TAG`), resolved to a digest and to a manifest and config per platform.
// Its layers are referenced (mounted, or copied across registries), never rebuilt.
class BaseImageError extends FastBuildError {
}
/** `oci:DIR:TAG` or `oci:DIR@sha256:\u2026` \u2192 layout dir and reference. */
function parseLayoutRef(text) {
    const rest = text.slice(4);
    const at = rest.lastIndexOf('@');
    if (at > 0)
        return { dir: rest.slice(0, at), ref: rest.slice(at + 1) };
    const colon = rest.lastIndexOf(':');
    if (colon <= 0)
        throw new BaseImageError(`base image ${JSON.stringify(text)} names no tag`, {}, 'write it as oci:DIR:TAG');
    return { dir: rest.slice(0, colon), ref: rest.slice(colon + 1) };
}
async function resolveBase(reference, platforms, opts = {}) {
    const kind = {
        what: 'base image',
        fix: 'choose a base image that has every platform the variant builds (base-image under [tool.fast-build])'
    };
    let store;
    let ref;
    let name;
    if (reference.startsWith('oci:')) {
        const l = parseLayoutRef(reference);
        const layout = new LayoutStore(node_path.resolve(opts.cwd ?? '.', l.dir));
        store = layout;
        ref = l.ref;
        name = `oci:${l.dir}`;
    }
    else {
        const r = parseImageReference(reference, 'base-image');
        const credential = opts.credentialFor
            ? await opts.credentialFor(r.host)
            : await credentialFromDockerConfig(r.host);
        store = new RegistryClient({ host: r.host, repository: r.repository }, { ...opts, credential });
        ref = r.digest ?? r.tag ?? 'latest';
        name = `${r.host === 'registry-1.docker.io' ? 'docker.io' : r.host}/${r.repository}`;
    }
    const image = await resolveImage(store, ref, platforms, kind).catch((e) => {
        store.close?.();
        // The registry client's own hint speaks of the image being pushed; this one is read from.
        if (e instanceof DepsImageError || !(e instanceof FastBuildError))
            throw e;
        throw new BaseImageError(`base image ${reference}: ${e.message}`, {}, e instanceof UnknownHostError
            ? `check base-image under [tool.fast-build] and the network to its registry; a base image pinned to a digest (${reference.replace(/@.*$/, '').replace(/:[^:/]*$/, '')}@sha256:\u2026) needs no lookup on the fast path`
            : (e.hint ?? 'check base-image under [tool.fast-build] and the credentials for its registry'));
    });
    if (!image) {
        store.close?.();
        throw new BaseImageError(`base image ${reference} not found`, {}, 'check base-image under [tool.fast-build] (and the credentials for its registry)');
    }
    return { reference, pinned: `${name}@${image.digest}`, image, store };
}

// The filesystem an image's layers add up to, as names only: which paths exist, what kind they
// are, where symlinks point. Layers are applied in order with the OCI whiteout rules (`.wh.NAME`
// deletes NAME from the layers below, `.wh..wh..opq` empties a directory of them). Pure.
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
class ImageFilesystem {
    nodes = new Map();
    /** Apply one layer's entries (in tar order) on top of what is there. */
    applyLayer(entries) {
        const layer = [...entries];
        // Whiteouts apply to the layers below, whatever their place in this layer's tar.
        for (const e of layer) {
            const base = node_path.posix.basename(e.path);
            if (!base.startsWith(WHITEOUT))
                continue;
            const dir = node_path.posix.dirname(e.path) === '.' ? '' : node_path.posix.dirname(e.path);
            if (base === OPAQUE)
                this.removeBelow(dir, false);
            else
                this.removeBelow(dir === '' ? base.slice(WHITEOUT.length) : `${dir}/${base.slice(WHITEOUT.length)}`, true);
        }
        for (const e of layer) {
            if (e.path === '' || node_path.posix.basename(e.path).startsWith(WHITEOUT))
                continue;
            this.addParents(e.path);
            switch (e.type) {
                case 'dir':
                    // A directory replaces a file or link of that name, and keeps what is below it.
                    if (this.nodes.get(e.path)?.type !== 'dir') {
                        this.removeBelow(e.path, true);
                        this.nodes.set(e.path, { type: 'dir' });
                    }
                    break;
                case 'symlink':
                    this.removeBelow(e.path, true);
                    this.nodes.set(e.path, { type: 'symlink', target: e.linkTarget ?? '' });
                    break;
                case 'hardlink': {
                    const to = this.nodes.get(node_path.posix.normalize(e.linkTarget ?? '').replace(/^\/+/, ''));
                    this.removeBelow(e.path, true);
                    this.nodes.set(e.path, to && to.type === 'file' ? to : { type: 'file', mode: e.mode ?? 0o644 });
                    break;
                }
                default:
                    this.removeBelow(e.path, true);
                    this.nodes.set(e.path, { type: 'file', mode: e.mode ?? 0o644 });
            }
        }
    }
    addParents(path) {
        for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
            const d = path.slice(0, i);
            if (!this.nodes.has(d))
                this.nodes.set(d, { type: 'dir' });
        }
    }
    /**
     * Remove `path`'s children (and `path` itself when `self`). Only a directory has children, so
     * the scan runs only when one is replaced or whited out (rare), never per file.
     */
    removeBelow(path, self) {
        const node = path === '' ? { type: 'dir' } : this.nodes.get(path);
        if (self)
            this.nodes.delete(path);
        if (node?.type !== 'dir')
            return;
        const prefix = path === '' ? '' : `${path}/`;
        for (const k of [...this.nodes.keys()])
            if (k.startsWith(prefix) && k !== path)
                this.nodes.delete(k);
    }
    /** The node at exactly this path (no symlinks followed on the last part). */
    lstat(path) {
        return this.nodes.get(strip(path));
    }
    /**
     * The path with every symlink resolved, as the kernel would inside the image (absolute targets
     * are relative to the image root; `..` never climbs above it), or null when a link is broken or
     * loops. Missing final components are fine: the resolved path of something that does not exist.
     */
    realpath(path, maxLinks = 40) {
        let links = 0;
        const parts = strip(path)
            .split('/')
            .filter((p) => p !== '' && p !== '.');
        const done = [];
        while (parts.length > 0) {
            const part = parts.shift();
            if (part === '..') {
                done.pop();
                continue;
            }
            const candidate = [...done, part].join('/');
            const node = this.nodes.get(candidate);
            if (node?.type === 'symlink') {
                if (++links > maxLinks)
                    return null;
                const t = node.target;
                if (t.startsWith('/'))
                    done.length = 0;
                parts.unshift(...t.split('/').filter((p) => p !== '' && p !== '.'));
                continue;
            }
            done.push(part);
        }
        return `/${done.join('/')}`;
    }
    /** What is at `path` after following symlinks (undefined when nothing is). */
    stat(path) {
        const real = this.realpath(path);
        return real === null ? undefined : this.nodes.get(strip(real));
    }
    exists(path) {
        return this.stat(path) !== undefined;
    }
    isDir(path) {
        return path === '/' || this.stat(path)?.type === 'dir';
    }
    isFile(path) {
        return this.stat(path)?.type === 'file';
    }
    /** Names directly inside a directory (following symlinks to reach it). */
    list(dir) {
        const real = this.realpath(dir);
        if (real === null)
            return [];
        const prefix = real === '/' ? '' : `${strip(real)}/`;
        const out = [];
        for (const k of this.nodes.keys()) {
            if (k.startsWith(prefix) && k.length > prefix.length && !k.slice(prefix.length).includes('/'))
                out.push(k.slice(prefix.length));
        }
        return out.sort();
    }
    /** Every path (for tests and small images). */
    paths() {
        return [...this.nodes.keys()].sort();
    }
}
function strip(path) {
    return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

// Reading a layer's tar stream: the entries' names, kinds, link targets and modes, with the
// content of a few chosen files. Enough to know what an image's filesystem holds without unpacking
// it (ustar, GNU long names, PAX path/linkpath records, as docker, buildah and umoci write them).
class TarReadError extends FastBuildError {
}
const BLOCK = 512;
function cString(buf, start, length) {
    const end = buf.indexOf(0, start);
    return buf.toString('utf8', start, end === -1 || end > start + length ? start + length : end);
}
function octal(buf, start, length) {
    // GNU base-256 for big values: the first byte has its top bit set.
    if ((buf[start] & 0x80) !== 0) {
        let n = 0;
        for (let i = start + 1; i < start + length; i++)
            n = n * 256 + buf[i];
        return n;
    }
    const text = cString(buf, start, length).trim();
    return text === '' ? 0 : parseInt(text, 8);
}
function cleanPath$1(p) {
    let s = p;
    while (s.startsWith('./'))
        s = s.slice(2);
    s = s.replace(/^\/+/, '').replace(/\/+$/, '');
    return s === '.' ? '' : s;
}
/** PAX extended header records: `len key=value\n`. */
function paxRecords(data) {
    const out = new Map();
    let i = 0;
    while (i < data.length) {
        const space = data.indexOf(0x20, i);
        if (space === -1)
            break;
        const len = Number(data.toString('utf8', i, space));
        if (!Number.isSafeInteger(len) || len <= 0)
            break;
        const record = data.toString('utf8', space + 1, i + len - 1);
        const eq = record.indexOf('=');
        if (eq > 0)
            out.set(record.slice(0, eq), record.slice(eq + 1));
        i += len;
    }
    return out;
}
function typeOf(flag) {
    switch (flag) {
        case '0':
        case '\0':
        case '':
        case '7':
            return 'file';
        case '5':
            return 'dir';
        case '2':
            return 'symlink';
        case '1':
            return 'hardlink';
        default:
            return 'other';
    }
}
/**
 * Walks a tar stream. Content is skipped, except for wanted files. Holds at most one block run in
 * memory at a time, so a multi-gigabyte layer streams through.
 */
async function readTar(stream, opts) {
    const maxContent = opts.maxContent ?? 64 * 1024;
    let buf = Buffer.alloc(0);
    /** Bytes of the current entry's data (padded) still to skip or collect. */
    let remaining = 0;
    let collecting = null;
    /** A pending extended header being read (PAX `x`, GNU `L`/`K`). */
    let meta = null;
    let pax = new Map();
    let longName = null;
    let longLink = null;
    let ended = false;
    const finishCollect = () => {
        if (!collecting)
            return;
        const c = collecting;
        collecting = null;
        opts.onContent?.(c.entry, Buffer.concat(c.parts).subarray(0, Math.min(c.entry.size, maxContent)));
    };
    const finishMeta = () => {
        const m = meta;
        meta = null;
        const data = Buffer.concat(m.parts).subarray(0, m.size);
        if (m.kind === 'x')
            pax = paxRecords(data);
        else if (m.kind === 'L')
            longName = cString(data, 0, data.length);
        else if (m.kind === 'K')
            longLink = cString(data, 0, data.length);
    };
    for await (const chunk of stream) {
        if (ended)
            continue;
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        let off = 0;
        while (off < buf.length) {
            if (remaining > 0) {
                const n = Math.min(remaining, buf.length - off);
                const piece = buf.subarray(off, off + n);
                if (collecting && collecting.got < maxContent) {
                    collecting.parts.push(Buffer.from(piece));
                    collecting.got += n;
                }
                if (meta) {
                    meta.parts.push(Buffer.from(piece));
                    meta.got += n;
                }
                remaining -= n;
                off += n;
                if (remaining === 0) {
                    finishCollect();
                    if (meta)
                        finishMeta();
                }
                continue;
            }
            if (buf.length - off < BLOCK)
                break;
            const h = buf.subarray(off, off + BLOCK);
            off += BLOCK;
            if (h.every((b) => b === 0)) {
                ended = true;
                break;
            }
            const flag = String.fromCharCode(h[156]);
            const size = octal(h, 124, 12);
            const padded = Math.ceil(size / BLOCK) * BLOCK;
            if (flag === 'x' || flag === 'L' || flag === 'K' || flag === 'g') {
                if (size > 16 * 1024 * 1024)
                    throw new TarReadError(`a tar extended header of ${size} bytes`);
                meta = { kind: flag, size, parts: [], got: 0 };
                remaining = padded;
                if (remaining === 0)
                    finishMeta();
                continue;
            }
            const magic = h.toString('latin1', 257, 263);
            const prefix = magic.startsWith('ustar') ? cString(h, 345, 155) : '';
            const rawName = longName ?? pax.get('path') ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
            const rawLink = longLink ?? pax.get('linkpath') ?? cString(h, 157, 100);
            const paxSize = pax.get('size');
            const realSize = paxSize !== undefined ? Number(paxSize) : size;
            const realPadded = Math.ceil(realSize / BLOCK) * BLOCK;
            longName = null;
            longLink = null;
            pax = new Map();
            const entry = {
                path: cleanPath$1(rawName),
                type: typeOf(flag),
                linkTarget: rawLink,
                mode: octal(h, 100, 8) & 0o7777,
                size: realSize
            };
            opts.onEntry(entry);
            remaining = realPadded;
            if (remaining > 0 && entry.type === 'file' && opts.want?.(entry)) {
                collecting = { entry, parts: [], got: 0 };
            }
            else if (entry.type === 'file' && opts.want?.(entry) && realSize === 0) {
                opts.onContent?.(entry, Buffer.alloc(0));
            }
        }
        buf = off >= buf.length ? Buffer.alloc(0) : buf.subarray(off);
    }
}
/** A layer blob on disk as a stream of tar bytes, decompressed by its media type. */
function openLayerTar(file, mediaType) {
    const raw = node_fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
    if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip') || mediaType.endsWith('tar.gzip')) {
        const gunzip = zlib.createGunzip();
        raw.on('error', (e) => gunzip.destroy(e));
        return raw.pipe(gunzip);
    }
    if (mediaType.endsWith('+zstd'))
        return zstdDecompressFile(raw, file);
    return raw;
}

// The edge of base-python.ts: read an image's layers (names only, plus any pyvenv.cfg) from a
// store, and keep what was found by the image's manifest digest, so each base image is read once
// per machine (and per runner, through the Actions cache, which saves the cache directory's
// `base-python/` entries).
/** Reads every layer of an image into one filesystem of names; pyvenv.cfg files are read whole. */
async function readImageFilesystem(store, layers) {
    const fs = new ImageFilesystem();
    const files = new Map();
    for (const layer of layers) {
        const { file } = await store.openBlob(layer.digest);
        const entries = [];
        await readTar(openLayerTar(file, layer.mediaType), {
            onEntry: (e) => entries.push({ path: e.path, type: e.type, linkTarget: e.linkTarget, mode: e.mode }),
            want: (e) => e.path.endsWith('pyvenv.cfg') && e.size < 64 * 1024,
            onContent: (e, content) => files.set(`/${e.path}`, content.toString('utf8'))
        });
        fs.applyLayer(entries);
    }
    return { fs, files };
}
function cachePath(cacheDir, manifest) {
    return new CacheLayout(cacheDir).basePythonFacts(digestHex(manifest));
}
function readCached(path) {
    if (!node_fs.existsSync(path))
        return null;
    try {
        const f = JSON.parse(node_fs.readFileSync(path, 'utf8'));
        return f.schema === FACTS_SCHEMA && Array.isArray(f.pythons) ? f : null;
    }
    catch {
        return null; // torn or foreign: read the image again
    }
}
/**
 * The Python facts of one platform image: from the cache when this manifest was read before,
 * else from its layers (and then cached).
 */
async function imagePythonFacts(args) {
    const path = args.cacheDir ? cachePath(args.cacheDir, args.manifestDigest) : null;
    const cached = path ? readCached(path) : null;
    if (cached)
        return cached;
    const bytes = args.layers.reduce((n, l) => n + l.size, 0);
    args.onProgress?.(`reading ${args.what} (${args.layers.length} layer${args.layers.length === 1 ? '' : 's'}, ${formatBytes(bytes)}) to find its Python`);
    const { fs, files } = await readImageFilesystem(args.store, args.layers);
    const facts = detectPython(fs, args.config.config?.Env, files);
    if (path) {
        node_fs.mkdirSync(node_path.dirname(path), { recursive: true });
        const tmp = `${path}.${node_crypto.randomBytes(4).toString('hex')}.tmp`;
        try {
            node_fs.writeFileSync(tmp, JSON.stringify(facts));
            node_fs.renameSync(tmp, path);
        }
        finally {
            node_fs.rmSync(tmp, { force: true });
        }
    }
    return facts;
}

// Where each image's Python reads packages, found once per build: the base image's (what a deps
// image is built for: read from its layers, only when a deps image is built) and each deps
// image's (recorded in its label by the wheels builder; else read from its layers and kept by
// digest). The base image itself is resolved here when the plan stage did not need to.
/** Where a variant's target python came from, for messages. */
function pythonFrom(plan) {
    const c = plan.project.config;
    if (plan.options.python)
        return 'as asked (--python)';
    if (c.python)
        return 'python under [tool.fast-build]';
    if (c.baseImage !== null && c.pythonInBase)
        return "the base image's";
    return 'the lowest requires-python allows';
}
function uniquePlatforms(plan) {
    const seen = new Map();
    for (const v of plan.variants)
        for (const p of v.platforms)
            seen.set(formatPlatform(p.platform), p.platform);
    return [...seen.values()];
}
class PythonSites {
    plan;
    o;
    base;
    layouts = null;
    constructor(plan, 
    /** The base image as the plan stage resolved it, if it did. */
    resolved, o) {
        this.plan = plan;
        this.o = o;
        this.base = resolved ? Promise.resolve(resolved) : null;
    }
    /** The base image, resolved once (when the plan stage did not). */
    baseImage() {
        return (this.base ??= resolveBase(this.plan.variants[0].baseImage, uniquePlatforms(this.plan), {
            ...this.o.baseOptions,
            cwd: this.plan.project.dir
        }));
    }
    /** Its registry connection closed, whatever happened. */
    async close() {
        if (this.base)
            await this.base.then((b) => b.store.close?.(), () => undefined);
    }
    factsOf(from, pi, what, say) {
        if (!this.plan.project.config.pythonInBase)
            return Promise.resolve(null);
        return imagePythonFacts({
            store: from,
            manifestDigest: pi.manifestDigest,
            layers: pi.manifest.layers,
            config: pi.config,
            cacheDir: this.o.cacheDir,
            what: `${what} (${formatPlatform(pi.platform)})`,
            onProgress: say
        });
    }
    layoutOf(facts, python, image, pi) {
        return resolveLayout({
            config: this.plan.project.config,
            python,
            pythonFrom: pythonFrom(this.plan),
            facts,
            base: image,
            platform: formatPlatform(pi.platform),
            file: this.plan.project.file
        });
    }
    /** Where each platform's packages go: what the base image's Python reads (by formatPlatform). */
    baseLayouts() {
        return (this.layouts ??= (async () => {
            const b = await this.baseImage();
            const out = new Map();
            const say = (m) => this.o.progress(null, m);
            for (const pi of b.image.platforms) {
                const platform = formatPlatform(pi.platform);
                const facts = await this.factsOf(b.store, pi, `base image ${b.reference}`, say);
                const resolved = this.layoutOf(facts, this.plan.variants[0].python, b.reference, pi);
                say(`${platform}: ${resolved.description}`);
                out.set(platform, resolved);
            }
            return out;
        })());
    }
    /**
     * The Python of a deps image. A deps image with none (made elsewhere, with no Python on its
     * PATH) gets no project layer.
     */
    async depsPython(v, ref, pi) {
        const recorded = readRecordedPython(pi.config.config?.Labels);
        if (recorded)
            return recorded;
        const say = (m) => this.o.progress(v.name, m);
        const facts = await this.factsOf(this.o.store, pi, `deps image ${ref}`, say);
        if (facts && !facts.python) {
            say(`note: deps image ${ref} (${formatPlatform(pi.platform)}) has no Python on its PATH: the project is not installed as a package there (its code is on PYTHONPATH)`);
            return null;
        }
        try {
            return recordedPython(this.layoutOf(facts, v.python, ref, pi));
        }
        catch (e) {
            // Not ours to refuse: the deps image exists. Its app image just does not install the project.
            if (!(e instanceof PythonLayoutError))
                throw e;
            say(`note: ${e.message}: the project is not installed as a package there`);
            return null;
        }
    }
    /**
     * The generated Dockerfile installs with the base image's interpreter (and bootstraps pip when
     * it has none): a base without Python, or with another version, fails as the wheels builder
     * would. A Dockerfile of the project's own may bring its Python: there it is only a hint.
     */
    async dockerfilePython(v) {
        if (v.builder.kind !== 'dockerfile' || !this.plan.project.config.pythonInBase)
            return {};
        const own = v.builder.settings.path !== null;
        try {
            const m = await this.baseLayouts();
            const r = m.get(formatPlatform(v.platforms[0].platform));
            return r?.python ? { python: { interpreter: r.layout.interpreter, hasPip: r.python.hasPip } } : {};
        }
        catch (e) {
            if (own && e instanceof PythonLayoutError) {
                this.layouts = null;
                return {};
            }
            throw e;
        }
    }
}

// `.dockerignore` as Docker reads it: moby/patternmatcher (`ignorefile.ReadAll` + `New` +
// `MatchesOrParentMatches`), reimplemented. Pure: text in, patterns out; patterns and a path in,
// excluded or not out.
//
// Reading a file (ignorefile.ReadAll, then patternmatcher.New):
// - one pattern a line; a UTF-8 BOM at the start is dropped; a line whose FIRST character is `#`
//   is a comment (`  # x` is a pattern); surrounding whitespace is trimmed; blank lines are skipped;
// - a leading `!` makes an exception (re-include); the rest is cleaned like Go's `filepath.Clean`
//   (`./a//b/` \u2192 `a/b`, `a/../b` \u2192 `b`) and one leading `/` is dropped (`/a` \u2261 `a`);
// - `!` alone (or `!/`) is an error, as are malformed classes and trailing backslashes
//   (filepath.Match's syntax check).
//
// Matching one pattern (patternmatcher's compile):
// - `*` = any run of characters except `/`; `?` = one character except `/`;
//   `[...]`/`[^...]` = a character class; `\x` = the character x;
// - `**` = any number of directories (`**/a` matches `a` and `x/y/a`); `a/**` = everything below a;
//   a pattern that STARTS with `**` and has no other wildcard is a plain suffix test
//   (`**.pyc` matches `x.pyc` and `dir/x.pyc`; `**foo` matches `barfoo`);
// - the pattern must match the whole path, never a part of a name.
//
// Matching a path (MatchesOrParentMatches): the last pattern that matches wins (`!` ones make the
// path included again); a pattern matches a path when it matches the path itself OR any of its
// parent directories (`a`, `a/b`, ... of `a/b/c`), so `build` excludes `build/x/y`, and
// `!build/keep` brings back `build/keep` and everything below it.
//
// Where this differs from Docker:
// - BuildKit's walker (tonistiigi/fsutil) calls MatchesUsingParentResults, which remembers per
//   directory which patterns matched it and skips an exception that was not "live" there: for
//   `**/z.py` then `!pkg`, BuildKit keeps pkg/a/z.py excluded, while MatchesOrParentMatches (here,
//   and buildah/podman, see buildah.differential.test.ts) includes it again.
// - Docker compiles a pattern's regular expression when it first needs it, so a pattern Go's
//   regexp rejects (`[z-a]`, `\y`) fails the build only if it is reached; here every pattern is
//   checked up front.
// - Escapes that Go's regexp gives a meaning and nobody writes in a .dockerignore (`\x41`,
//   `\p{L}`, `\Q..\E`, octal `\101`) are refused with an error instead of being emulated;
//   `\d \w \s \b` (and their capitals) and POSIX classes (`[[:alpha:]]`) are emulated.
/** No `.dockerignore`: nothing is excluded. */
const NO_DOCKERIGNORE = {
    file: '.dockerignore',
    patterns: [],
    hasExceptions: false
};
/** Parse the text of a `.dockerignore`; `file` names it in errors. */
function parseDockerignore(text, file = '.dockerignore') {
    const patterns = [];
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    if (lines[lines.length - 1] === '')
        lines.pop();
    lines.forEach((raw, index) => {
        const line = index + 1;
        const pattern = readLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
        if (pattern === null)
            return;
        patterns.push(compilePattern(pattern, raw.trim(), file, line));
    });
    return { file, patterns, hasExceptions: patterns.some((p) => p.exception) };
}
/**
 * Is `relativePath` (relative to the directory of the `.dockerignore`, `/`-separated) left out?
 * The root itself (`.`, ``) never is.
 */
function isExcluded(ignore, relativePath) {
    if (ignore.patterns.length === 0)
        return false;
    const file = cleanPath(relativePath);
    if (file === '.')
        return false;
    const slash = file.lastIndexOf('/');
    const parents = [];
    if (slash > 0) {
        // The prefixes `a`, `a/b`, ... of the parent directory, shortest first.
        const parent = file.slice(0, slash);
        for (let i = parent.indexOf('/'); i !== -1; i = parent.indexOf('/', i + 1))
            parents.push(parent.slice(0, i));
        parents.push(parent);
    }
    let excluded = false;
    for (const p of ignore.patterns) {
        // Only a pattern that could change the answer is tried (an exception when excluded, ...).
        if (p.exception !== excluded)
            continue;
        if (p.matches(file) || parents.some((d) => p.matches(d)))
            excluded = !p.exception;
    }
    return excluded;
}
// --- reading lines ---------------------------------------------------------------------------
/** ignorefile.ReadAll + the trimming and cleaning of patternmatcher.New; null for no pattern. */
function readLine(raw) {
    if (raw.startsWith('#'))
        return null;
    let pattern = goTrimSpace(raw);
    if (pattern === '')
        return null;
    const invert = pattern.startsWith('!');
    if (invert)
        pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
        pattern = cleanPath(pattern);
        if (pattern.length > 1 && pattern.startsWith('/'))
            pattern = pattern.slice(1);
    }
    if (invert)
        pattern = '!' + pattern;
    // patternmatcher.New trims and cleans once more, `!` included (`!/` becomes `!`).
    return cleanPath(goTrimSpace(pattern));
}
/** Go's `filepath.Clean` for `/`-separated paths. */
function cleanPath(path) {
    if (path === '')
        return '.';
    const rooted = path.startsWith('/');
    const out = [];
    for (const part of path.split('/')) {
        if (part === '' || part === '.')
            continue;
        if (part === '..') {
            if (out.length > 0 && out[out.length - 1] !== '..')
                out.pop();
            else if (!rooted)
                out.push('..');
            continue;
        }
        out.push(part);
    }
    const joined = out.join('/');
    if (rooted)
        return '/' + joined;
    return joined === '' ? '.' : joined;
}
// Go's unicode.IsSpace, which strings.TrimSpace uses (JS's trim() differs on U+0085 and U+FEFF).
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');
const goTrimSpace = (s) => s.replace(GO_TRIM, '');
// --- one pattern -----------------------------------------------------------------------------
function compilePattern(cleaned, written, file, line) {
    const fail = (what, hint) => {
        throw new SourceError(`bad .dockerignore pattern ${JSON.stringify(written)}: ${what}`, { file, line }, hint);
    };
    let pattern = cleaned;
    const exception = pattern.startsWith('!');
    if (exception) {
        if (pattern.length === 1) {
            fail('`!` needs a pattern after it', 'write the path to include again after the `!`, or delete the line');
        }
        pattern = pattern.slice(1);
    }
    const syntax = globSyntaxError(pattern);
    if (syntax)
        fail(syntax, 'escape a literal `[`, `]` or `\\` with a backslash (`\\[`)');
    try {
        return { pattern, line, exception, matches: compileMatcher(pattern) };
    }
    catch (e) {
        if (!(e instanceof RegexError))
            throw e;
        return fail(e.message, e.hint);
    }
}
/**
 * filepath.Match's syntax check (run by patternmatcher.New on every pattern): classes must close,
 * have at least one item, and not start a range with `-` or `]`; a backslash must escape something.
 */
function globSyntaxError(pattern) {
    const cs = Array.from(pattern);
    let i = 0;
    // One class item (`a`, `\]`); false when malformed or when nothing follows it.
    const item = () => {
        const c = cs[i];
        if (c === undefined || c === '-' || c === ']')
            return false;
        if (c === '\\' && ++i >= cs.length)
            return false;
        i++;
        return i < cs.length;
    };
    while (i < cs.length) {
        const c = cs[i];
        if (c === '\\') {
            if (i + 1 >= cs.length)
                return 'a trailing backslash escapes nothing';
            i += 2;
        }
        else if (c === '[') {
            i++;
            if (cs[i] === '^')
                i++;
            for (let n = 0;; n++) {
                if (cs[i] === ']' && n > 0) {
                    i++;
                    break;
                }
                if (!item())
                    return 'malformed character class (empty, unclosed, or a range without both ends)';
                if (cs[i] === '-') {
                    i++;
                    if (!item())
                        return 'malformed character class (empty, unclosed, or a range without both ends)';
                }
            }
        }
        else {
            i++;
        }
    }
    return null;
}
/** patternmatcher's compile: exact, prefix (`a/**`), suffix (`**\/a`) or a regular expression. */
function compileMatcher(pattern) {
    const cs = Array.from(pattern);
    let pos = 0;
    let re = '^';
    let kind = 'exact';
    for (let i = 0; pos < cs.length; i++) {
        const ch = cs[pos++];
        if (ch === '*') {
            if (cs[pos] === '*') {
                pos++;
                if (cs[pos] === '/')
                    pos++;
                if (pos === cs.length) {
                    // `**` at the end: everything below.
                    if (kind === 'exact')
                        kind = 'prefix';
                    else {
                        re += '.*';
                        kind = 'regexp';
                    }
                }
                else {
                    re += '(.*/)?';
                    kind = 'regexp';
                }
                if (i === 0)
                    kind = 'suffix';
            }
            else {
                re += '[^/]*';
                kind = 'regexp';
            }
        }
        else if (ch === '?') {
            re += '[^/]';
            kind = 'regexp';
        }
        else if ('.+()|{}$'.includes(ch)) {
            re += '\\' + ch;
        }
        else if (ch === '\\') {
            if (pos < cs.length) {
                re += '\\' + cs[pos++];
                kind = 'regexp';
            }
            else {
                re += '\\'; // unreachable: the syntax check refuses a trailing backslash
            }
        }
        else if (ch === '[' || ch === ']') {
            re += ch;
            kind = 'regexp';
        }
        else {
            re += ch;
        }
    }
    switch (kind) {
        case 'exact':
            return (path) => path === pattern;
        case 'prefix': {
            const prefix = pattern.slice(0, -2);
            return (path) => path.startsWith(prefix);
        }
        case 'suffix': {
            const suffix = pattern.slice(2);
            const bare = suffix.startsWith('/') ? suffix.slice(1) : null;
            return (path) => path.endsWith(suffix) || path === bare;
        }
        case 'regexp': {
            const nfa = goRegexpToNfa(re + '$');
            return (path) => runNfa(nfa, path);
        }
    }
}
// --- Go regexp (RE2 syntax) \u2192 an automaton ---------------------------------------------------
// patternmatcher hands its regular expression to Go's regexp; the character classes it builds
// (`[a[^/]*]` from `[a*]`, POSIX `[[:alpha:]]`) parse differently in JavaScript, so the Go syntax is
// parsed here and every class is written out as explicit code point ranges. The result runs as a
// small automaton, one step per character, as RE2 does: a JavaScript RegExp backtracks, and a
// pattern such as `*a*a*a*a*b` took seconds on one 100-character path (a minute at 200).
class RegexError extends Error {
    hint;
    constructor(message, hint) {
        super(message);
        this.hint = hint;
    }
}
const MAX_RUNE = 0x10ffff;
const c = (s) => s.codePointAt(0);
const DIGIT = [[c('0'), c('9')]];
const WORD = [
    [c('0'), c('9')],
    [c('A'), c('Z')],
    [c('_'), c('_')],
    [c('a'), c('z')]
];
const PERL_SPACE = [
    [9, 10],
    [12, 13],
    [32, 32]
];
const PERL = { d: DIGIT, s: PERL_SPACE, w: WORD };
const POSIX = {
    alnum: [
        [c('0'), c('9')],
        [c('A'), c('Z')],
        [c('a'), c('z')]
    ],
    alpha: [
        [c('A'), c('Z')],
        [c('a'), c('z')]
    ],
    ascii: [[0, 0x7f]],
    blank: [
        [9, 9],
        [32, 32]
    ],
    cntrl: [
        [0, 0x1f],
        [0x7f, 0x7f]
    ],
    digit: DIGIT,
    graph: [[0x21, 0x7e]],
    lower: [[c('a'), c('z')]],
    print: [[0x20, 0x7e]],
    punct: [
        [0x21, 0x2f],
        [0x3a, 0x40],
        [0x5b, 0x60],
        [0x7b, 0x7e]
    ],
    space: [
        [9, 13],
        [32, 32]
    ],
    upper: [[c('A'), c('Z')]],
    word: WORD,
    xdigit: [
        [c('0'), c('9')],
        [c('A'), c('F')],
        [c('a'), c('f')]
    ]
};
const CONTROL_ESCAPES = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
function complement(ranges) {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const out = [];
    let next = 0;
    for (const [lo, hi] of sorted) {
        if (lo > next)
            out.push([next, lo - 1]);
        next = Math.max(next, hi + 1);
    }
    if (next <= MAX_RUNE)
        out.push([next, MAX_RUNE]);
    return out;
}
const isAsciiAlnum = (ch) => /^[A-Za-z0-9]$/.test(ch);
function unsupportedEscape(e) {
    if (/^[xpPQC0-7]$/.test(e)) {
        return new RegexError(`\`\\${e}\` is a regular-expression escape in Docker's matcher, which fast-build does not reproduce`, `write the character(s) you mean without the backslash`);
    }
    return new RegexError(`\`\\${e}\` is an invalid escape (Docker's matcher fails on it too)`, 'escape only punctuation (`\\*`, `\\?`, `\\[`); write letters and digits without a backslash');
}
/** A single-character escape inside or outside a class (Go's parseEscape). */
function escapedRune(e) {
    if (c(e) < 0x80 && !isAsciiAlnum(e))
        return c(e);
    const control = CONTROL_ESCAPES[e];
    if (control !== undefined)
        return control;
    throw unsupportedEscape(e);
}
const NOT_NEWLINE = complement([[10, 10]]);
function goRegexpToNfa(source) {
    const cs = Array.from(source);
    const steps = [];
    const internal = () => new RegexError(`fast-build cannot read the regular expression Docker's matcher makes of it`, 'please report the pattern; escape its punctuation meanwhile');
    let p = 0;
    while (p < cs.length) {
        const ch = cs[p++];
        switch (ch) {
            case '\\': {
                const e = cs[p++];
                if (e === undefined)
                    throw new RegexError('a trailing backslash escapes nothing', 'remove it');
                if (e === 'A')
                    steps.push({ kind: 'start' });
                else if (e === 'z')
                    steps.push({ kind: 'end' });
                else if (e === 'b' || e === 'B')
                    steps.push({ kind: 'boundary', word: e === 'b' });
                else if ('dDsSwW'.includes(e)) {
                    const ranges = PERL[e.toLowerCase()];
                    steps.push({ kind: 'one', ranges: e === e.toLowerCase() ? ranges : complement(ranges) });
                }
                else {
                    const cp = escapedRune(e);
                    steps.push({ kind: 'one', ranges: [[cp, cp]] });
                }
                break;
            }
            case '[': {
                const parsed = parseClass(cs, p);
                steps.push({ kind: 'one', ranges: parsed.ranges });
                p = parsed.end;
                break;
            }
            case '.':
                steps.push({ kind: 'one', ranges: NOT_NEWLINE });
                break;
            case '(':
                // The one group patternmatcher writes (a pattern's own parentheses are escaped).
                if (cs.slice(p, p + 5).join('') !== '.*/)?')
                    throw internal();
                p += 5;
                steps.push({ kind: 'dirs' });
                break;
            case '*': {
                const last = steps[steps.length - 1];
                if (last?.kind !== 'one')
                    throw internal();
                steps[steps.length - 1] = { kind: 'star', ranges: last.ranges };
                break;
            }
            case '^':
                steps.push({ kind: 'start' });
                break;
            case '$':
                // Only the final `$` (the pattern's own are escaped): the match ends there.
                if (p !== cs.length)
                    throw internal();
                break;
            case ')':
            case '|':
            case '+':
            case '?':
                throw internal();
            default:
                steps.push({ kind: 'one', ranges: [[c(ch), c(ch)]] });
        }
    }
    return steps;
}
function inRanges(ranges, cp) {
    for (const [lo, hi] of ranges)
        if (cp >= lo && cp <= hi)
            return true;
    return false;
}
const isWordCp = (cp) => cp !== undefined && inRanges(WORD, cp);
/**
 * Does the whole of `path` match? A set of positions in `steps` advances one code point at a
 * time (Thompson's construction): time linear in the path for a given pattern. State `i` is
 * "before step i"; `steps.length` is the match; `steps.length + 1 + i` is inside the `(.*\/)?` of
 * step i.
 */
function runNfa(steps, path) {
    const cps = Array.from(path, (ch) => c(ch));
    const n = steps.length;
    const inner = (i) => n + 1 + i;
    let current = new Set();
    // Adds `state` and everything reachable from it without reading (at position `pos`).
    const close = (set, state, pos) => {
        const stack = [state];
        while (stack.length > 0) {
            const s = stack.pop();
            if (set.has(s))
                continue;
            set.add(s);
            if (s >= n)
                continue;
            const step = steps[s];
            switch (step.kind) {
                case 'star':
                    stack.push(s + 1);
                    break;
                case 'dirs':
                    stack.push(s + 1, inner(s));
                    break;
                case 'start':
                    if (pos === 0)
                        stack.push(s + 1);
                    break;
                case 'end':
                    if (pos === cps.length)
                        stack.push(s + 1);
                    break;
                case 'boundary':
                    if ((isWordCp(cps[pos - 1]) !== isWordCp(cps[pos])) === step.word)
                        stack.push(s + 1);
                    break;
            }
        }
    };
    close(current, 0, 0);
    for (let pos = 0; pos < cps.length && current.size > 0; pos++) {
        const cp = cps[pos];
        const next = new Set();
        for (const s of current) {
            if (s === n)
                continue;
            if (s > n) {
                // Inside `(.*\/)?`: any character but a newline stays; a `/` may also end the group.
                const i = s - n - 1;
                if (cp !== 10)
                    close(next, s, pos + 1);
                if (cp === 47)
                    close(next, i + 1, pos + 1);
                continue;
            }
            const step = steps[s];
            if (step.kind === 'one' && inRanges(step.ranges, cp))
                close(next, s + 1, pos + 1);
            else if (step.kind === 'star' && inRanges(step.ranges, cp))
                close(next, s, pos + 1);
        }
        current = next;
    }
    return current.has(n);
}
/** Go's parseClass (Perl flags), from just after the `[`; returns the matched code points. */
function parseClass(cs, start) {
    let p = start;
    let negated = false;
    if (cs[p] === '^') {
        negated = true;
        p++;
    }
    const ranges = [];
    const classChar = () => {
        const ch = cs[p++];
        if (ch === undefined)
            throw missingBracket();
        if (ch !== '\\')
            return c(ch);
        const e = cs[p++];
        if (e === undefined)
            throw missingBracket();
        return escapedRune(e);
    };
    for (let first = true; first || cs[p] !== ']'; first = false) {
        if (p >= cs.length)
            throw missingBracket();
        // POSIX classes: `[:alpha:]`, `[:^alpha:]`.
        if (cs[p] === '[' && cs[p + 1] === ':') {
            const rest = cs.slice(p + 2).join('');
            const close = rest.indexOf(':]');
            if (close >= 0) {
                let name = rest.slice(0, close);
                const not = name.startsWith('^');
                if (not)
                    name = name.slice(1);
                const group = POSIX[name];
                if (!group) {
                    throw new RegexError(`\`[:${rest.slice(0, close)}:]\` is not a character class name`, 'use a POSIX class such as [:alpha:], or escape the `[`');
                }
                ranges.push(...(not ? complement(group) : group));
                p += 2 + Array.from(rest.slice(0, close + 2)).length;
                continue;
            }
        }
        if (cs[p] === '\\' && cs[p + 1] !== undefined && 'dDsSwW'.includes(cs[p + 1])) {
            const e = cs[p + 1];
            const group = PERL[e.toLowerCase()];
            ranges.push(...(e === e.toLowerCase() ? group : complement(group)));
            p += 2;
            continue;
        }
        const lo = classChar();
        let hi = lo;
        if (cs[p] === '-' && cs[p + 1] !== undefined && cs[p + 1] !== ']') {
            p++;
            hi = classChar();
            if (hi < lo) {
                throw new RegexError(`the range \`${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}\` runs backwards (Docker's matcher fails on it)`, `write it as \`${String.fromCodePoint(hi)}-${String.fromCodePoint(lo)}\``);
            }
        }
        ranges.push([lo, hi]);
    }
    return { ranges: negated ? complement(ranges) : ranges, end: p + 1 };
}
const missingBracket = () => new RegexError('a character class is not closed', 'close it with `]`, or escape the `[` as `\\[`');

// The project's source files for the source layer: which files (git's list or a directory walk,
// less `.dockerignore`), where they go in the image (`<workdir>/...`, local packages from outside
// the project under `<workdir>/_local/<name>/`), and what goes on PYTHONPATH. The only part of the
// source layer that touches the disk; file contents are read later, lazily, by the tar writer.
//
// Which files:
// - git mode: `git ls-files --cached --recurse-submodules` in the directory: what git tracks there,
//   read from the working tree (uncommitted edits count; tracked files deleted from the working
//   tree, or now behind a symlinked directory, are skipped; untracked files are not shipped).
//   .gitignore has already decided what is junk.
// - walk mode: every file below the directory, as `COPY . <workdir>` would see it, less common
//   junk (see JUNK_DIRS/JUNK_FILES: caches, `__pycache__`, `*.pyc`, and any directory holding a
//   `pyvenv.cfg`, i.e. a virtualenv whatever its name). Empty directories are kept, as Docker does.
//   Never shipped, junk rules or not: an OCI image layout (a directory holding `oci-layout` and
//   `index.json`), such as a `--store oci:./images` inside the project. Packing it would put the
//   previous images into the next one, which grows without end and changes the layer every build.
// - auto: git when the directory is inside a git work tree (a `.git` in it or above it), else walk.
// In every mode nothing named `.git` is shipped, and `<dir>/.dockerignore` applies with Docker's
// semantics (see dockerignore.ts); the `.dockerignore` file itself ships unless it excludes itself.
//
// What is refused (SourceError, naming the path and the fix): symlinks with absolute targets or
// targets outside the directory they were collected from, names that are not UTF-8 or hold a
// newline, paths with `..`, sockets/FIFOs/devices, local packages that are missing or excluded.
/** Directory names walk mode never ships (any depth). */
const JUNK_DIRS = new Set([
    '__pycache__',
    '.mypy_cache',
    '.pytest_cache',
    '.ruff_cache',
    '.tox',
    '.nox'
]);
/** File name endings walk mode never ships. */
const JUNK_FILES = ['.pyc', '.pyo'];
/** A directory holding this file is a virtualenv: walk mode leaves it out. */
const VENV_MARKER = 'pyvenv.cfg';
/** A directory holding both is an OCI image layout (an image store): walk mode leaves it out. */
const OCI_LAYOUT_MARKERS = ['oci-layout', 'index.json'];
/** Under `<workdir>/` for local packages from outside the project directory. */
const LOCAL_DIR = '_local';
/**
 * Every local package of the plan's closures (any variant, any platform), once: the project
 * itself (`.`), workspace members and path dependencies. `lockDir` is the lock's directory relative
 * to the project directory (lock paths are relative to it).
 */
function localPackagesOf(plan, lockDir = '.') {
    const byPath = new Map();
    for (const v of plan.variants) {
        for (const p of v.platforms) {
            for (const { package: pkg } of p.closure.local) {
                if (pkg.source.kind !== 'directory')
                    continue;
                const path = cleanPath(`${lockDir}/${pkg.source.path}`);
                if (!byPath.has(path))
                    byPath.set(path, { name: pkg.name, path, virtual: pkg.source.virtual });
            }
        }
    }
    return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
// --- the whole tree ---------------------------------------------------------------------------
async function collectSource(opts) {
    const projectDir = node_path.resolve(opts.projectDir);
    const imageRoot = imageRootOf(opts.workdir);
    const mode = opts.mode ?? 'auto';
    const skipJunk = opts.skipJunk ?? true;
    requireDirectory(projectDir, '.', 'the project directory');
    const project = await collectTree(projectDir, '', mode, skipJunk);
    if (project.mode === 'git' && project.items.length === 0) {
        throw new SourceError('git tracks no files in the project directory', { file: '.' }, 'git add the project files, or set the source mode to walk');
    }
    const trees = [{ tree: project, prefix: imageRoot }];
    const packages = [
        {
            name: normalizeName(projectDir.split(node_path.sep).pop() || 'project'),
            path: '.',
            dir: '/' + imageRoot,
            importRoots: importRoots(filesOf(project, ''), readPyproject(projectDir)).map((r) => inImage(imageRoot, r)),
            mode: project.mode
        }
    ];
    const outside = new Map(); // name \u2192 path, to refuse two packages in one place
    for (const ref of opts.localPackages ?? []) {
        const abs = node_path.resolve(projectDir, ref.path);
        const rel = node_path.relative(projectDir, abs).split(node_path.sep).join('/');
        if (rel === '')
            continue; // the project itself
        const display = ref.path;
        const isOutside = rel === '..' || rel.startsWith('../') || node_path.isAbsolute(rel);
        const name = packageName(ref.name, display);
        if (!isOutside) {
            const files = filesOf(project, rel);
            if (files.length === 0) {
                requireDirectory(abs, display, `local package ${name}`);
                const why = [
                    ...(node_fs.existsSync(node_path.join(projectDir, '.dockerignore')) ? ['excluded by .dockerignore'] : []),
                    project.mode === 'git' ? 'not tracked by git' : 'left out as junk (caches, virtualenvs)'
                ].join(', or ');
                throw new SourceError(`local package ${name} (${display}) has no files in the source layer`, { file: display }, `its files are ${why}; ship them (change .dockerignore${project.mode === 'git' ? ', or git add them' : ''})`);
            }
            packages.push({
                name,
                path: ref.path,
                dir: '/' + join2(imageRoot, rel),
                importRoots: importRoots(files, readPyproject(abs)).map((r) => inImage(join2(imageRoot, rel), r)),
                mode: project.mode
            });
            continue;
        }
        if ((projectDir + node_path.sep).startsWith(abs + node_path.sep)) {
            if (ref.virtual)
                continue; // a workspace root around the project: nothing to import
            throw new SourceError(`local package ${name} (${display}) contains the project directory; it cannot ship separately`, { file: display }, 'run fast-build on the directory that holds the whole workspace, or make the package a sibling of the project');
        }
        const seen = outside.get(name);
        if (seen !== undefined) {
            if (seen === rel)
                continue;
            throw new SourceError(`two local packages named ${name}: ${seen} and ${display}`, { file: display }, 'give the packages distinct names in their pyproject.toml');
        }
        outside.set(name, rel);
        requireDirectory(abs, display, `local package ${name}`);
        const tree = await collectTree(abs, rel, mode, skipJunk);
        const prefix = join2(imageRoot, `${LOCAL_DIR}/${name}`);
        const files = filesOf(tree, '');
        if (files.length === 0) {
            throw new SourceError(`local package ${name} (${display}) has no files to ship`, { file: display }, tree.mode === 'git' ? 'git add its files, or use source mode walk' : 'check its .dockerignore');
        }
        trees.push({ tree, prefix });
        packages.push({
            name,
            path: ref.path,
            dir: '/' + prefix,
            importRoots: importRoots(files, readPyproject(abs)).map((r) => inImage(prefix, r)),
            mode: tree.mode
        });
    }
    const { entries, files, bytes } = toEntries(trees, imageRoot);
    checkLinksResolveInside(entries, trees.map((t) => t.prefix));
    const pythonPath = [...new Set(packages.flatMap((p) => p.importRoots))];
    const excluded = trees.reduce((n, t) => n + t.tree.excluded, 0);
    return { entries, files, bytes, pythonPath, excluded, packages };
}
/** `/app` \u2192 `app`; `/` \u2192 ``. */
function imageRootOf(workdir) {
    const clean = cleanPath(workdir);
    if (!workdir.startsWith('/') || clean.split('/').includes('..')) {
        throw new SourceError(`workdir ${JSON.stringify(workdir)} is not an absolute path in the image`, { keyPath: 'tool.fast-build.workdir' }, 'set workdir to an absolute path such as "/app"');
    }
    return clean.slice(1);
}
const join2 = (a, b) => (a === '' ? b : b === '' || b === '.' ? a : `${a}/${b}`);
const inImage = (prefix, root) => '/' + join2(prefix, root);
function packageName(name, display) {
    const n = normalizeName(name);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n)) {
        throw new SourceError(`local package name ${JSON.stringify(name)} cannot name a directory`, { file: display }, 'fix the name in its pyproject.toml');
    }
    return n;
}
function requireDirectory(abs, display, what) {
    let ok;
    try {
        ok = node_fs.statSync(abs).isDirectory();
    }
    catch {
        ok = false;
    }
    if (!ok) {
        throw new SourceError(`${what} (${display}) is not a directory here`, { file: display }, 'check out the whole repository (path dependencies and workspace members included) before building');
    }
}
/** `display` is how the directory is named in messages, relative to the project (`` for it). */
async function collectTree(dir, display, mode, skipJunk) {
    const ignore = readDockerignore(dir, display);
    const useGit = mode === 'git' || (mode === 'auto' && insideGitWorkTree(dir));
    return useGit ? collectGit(dir, display, ignore) : collectWalk(dir, display, ignore, skipJunk);
}
function readDockerignore(dir, display) {
    const path = node_path.join(dir, '.dockerignore');
    const name = join2(display, '.dockerignore');
    let text;
    try {
        text = node_fs.readFileSync(path, 'utf8');
    }
    catch (e) {
        const code = e.code;
        if (code === 'ENOENT' || code === 'ENOTDIR')
            return NO_DOCKERIGNORE;
        throw new SourceError(`cannot read ${name}: ${e.message}`, { file: name }, 'make it a readable file');
    }
    return parseDockerignore(text, name);
}
function insideGitWorkTree(dir) {
    for (let d = dir;; d = node_path.dirname(d)) {
        if (node_fs.existsSync(node_path.join(d, '.git')))
            return true;
        if (node_path.dirname(d) === d)
            return false;
    }
}
// Environment variables that would point git at another repository or index than the directory's.
const GIT_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_PREFIX', 'GIT_COMMON_DIR'];
function gitLsFiles(dir, display) {
    const env = { ...process.env };
    for (const k of GIT_ENV)
        delete env[k];
    return new Promise((resolvePromise, reject) => {
        node_child_process.execFile('git', ['ls-files', '-z', '--cached', '--recurse-submodules'], { cwd: dir, env, encoding: 'buffer', maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
            if (!error)
                return resolvePromise(stdout);
            const where = display || '.';
            const code = error.code;
            if (code === 'ENOENT') {
                return reject(new SourceError(`git is not installed, and ${where} is in a git work tree`, { file: where }, 'install git, or set the source mode to walk (every file, less .dockerignore)'));
            }
            const said = stderr.toString('utf8').trim().split('\n')[0] || error.message;
            const hint = /dubious ownership/.test(said)
                ? `mark the checkout as safe (git config --global --add safe.directory ${dir}), or set the source mode to walk`
                : 'fix the checkout, or set the source mode to walk (every file, less .dockerignore)';
            reject(new SourceError(`git ls-files failed in ${where}: ${said}`, { file: where }, hint));
        });
    });
}
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** A name as bytes \u2192 text, refusing what cannot go into a tar layer faithfully. */
function decodeName(bytes, displayParent) {
    let name;
    try {
        name = UTF8.decode(bytes);
    }
    catch {
        const shown = join2(displayParent, bytes.toString('utf8'));
        throw new SourceError(`the file name ${JSON.stringify(shown)} is not valid UTF-8`, { file: shown }, 'rename it (UTF-8 names only), or add it to .dockerignore');
    }
    if (name.includes('\n') || name.includes('\0')) {
        const shown = join2(displayParent, name);
        throw new SourceError(`the file name ${JSON.stringify(shown)} contains a newline`, { file: shown }, 'rename it, or add it to .dockerignore');
    }
    return name;
}
/** Listings started early by prefetchSource, by directory; taken once. */
const early = new Map();
/**
 * Start listing the project's files (in git mode) before anything else needs them: git runs in
 * its own process while this one reads the lock and plans. collectSource takes the result.
 */
function prefetchSource(projectDir, mode = 'auto') {
    const dir = node_path.resolve(projectDir);
    if (early.has(dir))
        return;
    if (mode === 'walk' || (mode === 'auto' && !insideGitWorkTree(dir)))
        return;
    // A failure is reported by the real call, which runs git again for its message.
    early.set(dir, gitLsFiles(dir, '').catch(() => null));
}
async function collectGit(dir, display, ignore) {
    const prefetched = early.get(dir);
    early.delete(dir);
    const out = (prefetched && (await prefetched)) || (await gitLsFiles(dir, display));
    const paths = new Set();
    let excluded = 0;
    for (let start = 0; start < out.length;) {
        let end = out.indexOf(0, start);
        if (end === -1)
            end = out.length;
        if (end > start) {
            const path = decodeName(out.subarray(start, end), display);
            checkRelative(path, display);
            if (isGitPath(path))
                excluded++;
            else if (isExcluded(ignore, path))
                excluded++;
            else
                paths.add(path);
        }
        start = end + 1;
    }
    // A tracked file behind a directory that is now a symlink is not in the working tree (git says
    // "beyond a symbolic link"); check each directory once.
    const parents = new Set();
    for (const p of paths)
        for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1))
            parents.add(p.slice(0, i));
    const parentList = [...parents];
    const parentStats = await lstatAll(parentList.map((p) => node_path.join(dir, p)));
    const badParents = new Set(parentList.filter((_, i) => !parentStats[i]?.isDirectory()));
    const list = [...paths].filter((p) => {
        for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1))
            if (badParents.has(p.slice(0, i)))
                return false;
        return true;
    });
    const stats = await lstatAll(list.map((p) => node_path.join(dir, p)));
    // Missing: deleted from the working tree. A directory: an uninitialized submodule.
    const items = [];
    for (let i = 0; i < list.length; i++) {
        const st = stats[i] ?? null;
        // Regular files (nearly all) need nothing asynchronous.
        const item = st?.isFile()
            ? {
                kind: 'file',
                rel: list[i],
                abs: `${dir}/${list[i]}`,
                size: st.size,
                executable: (st.mode & 0o111) !== 0
            }
            : await toItem(dir, display, list[i], st);
        if (item)
            items.push(item);
    }
    return { mode: 'git', items, dirs: [], excluded };
}
const isGitPath = (rel) => rel === '.git' || rel.startsWith('.git/') || rel.includes('/.git/') || rel.endsWith('/.git');
function checkRelative(rel, display) {
    if (rel.startsWith('/') || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) {
        const shown = join2(display, rel);
        throw new SourceError(`the path ${JSON.stringify(shown)} would land outside the project directory`, { file: shown }, 'rename it, or add it to .dockerignore');
    }
}
async function collectWalk(root, display, ignore, skipJunk) {
    const files = [];
    const links = [];
    const dirs = [];
    let excluded = 0;
    // `keep`: ship the directory itself (false below an excluded one, walked for `!` exceptions).
    const walk = async (rel, keep) => {
        let entries;
        try {
            entries = await promises.readdir(rel === '' ? root : node_path.join(root, rel), {
                withFileTypes: true,
                encoding: 'buffer'
            });
        }
        catch (e) {
            const shown = join2(display, rel) || '.';
            throw new SourceError(`cannot list ${shown}: ${e.message}`, { file: shown }, 'make it readable, or add it to .dockerignore');
        }
        if (skipJunk && rel !== '' && entries.some((e) => e.name.equals(VENV_BYTES))) {
            if (keep)
                excluded++;
            return;
        }
        if (rel !== '' && isOciLayout(entries)) {
            if (keep)
                excluded++;
            return;
        }
        if (keep && rel !== '')
            dirs.push(rel);
        const below = [];
        for (const e of entries) {
            const name = decodeName(e.name, join2(display, rel));
            const path = rel === '' ? name : `${rel}/${name}`;
            if (name === '.git')
                continue;
            const isDir = e.isDirectory();
            if (skipJunk && (isDir ? JUNK_DIRS.has(name) : JUNK_FILES.some((j) => name.endsWith(j)))) {
                if (keep)
                    excluded++;
                continue;
            }
            const out = isExcluded(ignore, path);
            // Below an excluded directory (walked for `!` exceptions) nothing more is counted.
            if (out && keep)
                excluded++;
            if (isDir) {
                if (!out)
                    below.push(walk(path, true));
                // An exception (`!dir/keep`) may bring back something below an excluded directory.
                else if (ignore.hasExceptions)
                    below.push(walk(path, false));
            }
            else if (out) {
                continue;
            }
            else if (e.isSymbolicLink()) {
                links.push(path);
            }
            else {
                files.push(path);
            }
        }
        await Promise.all(below);
    };
    await walk('', true);
    const paths = [...files, ...links];
    const stats = await lstatAll(paths.map((p) => node_path.join(root, p)));
    // Gone since the listing: it is not there to ship.
    const items = await Promise.all(paths.map((rel, i) => toItem(root, display, rel, stats[i] ?? null)));
    return { mode: 'walk', items: items.filter((i) => i !== null), dirs, excluded };
}
const VENV_BYTES = Buffer.from(VENV_MARKER);
const OCI_LAYOUT_BYTES = OCI_LAYOUT_MARKERS.map((m) => Buffer.from(m));
/** A directory listing with the files of an OCI image layout. */
function isOciLayout(entries) {
    return OCI_LAYOUT_BYTES.every((m) => entries.some((e) => !e.isDirectory() && e.name.equals(m)));
}
/** The file or link at `rel`; null when there is none (missing, or a directory). */
async function toItem(root, display, rel, st) {
    if (!st || st.isDirectory())
        return null;
    // `rel` is clean and relative here (checked), so plain concatenation is the join.
    const abs = `${root}/${rel}`;
    if (st.isFile())
        return { kind: 'file', rel, abs, size: st.size, executable: (st.mode & 0o111) !== 0 };
    const shown = join2(display, rel);
    if (st.isSymbolicLink()) {
        const raw = await promises.readlink(abs, { encoding: 'buffer' });
        let target;
        let problem;
        try {
            target = UTF8.decode(raw);
            problem = symlinkProblem(rel, target);
        }
        catch {
            target = raw.toString('utf8');
            problem = 'has a target that is not valid UTF-8';
        }
        if (problem) {
            throw new SourceError(`symlink ${shown} -> ${target} ${problem}`, { file: shown }, `replace the link with the file it points to, or add ${JSON.stringify(rel)} to .dockerignore`);
        }
        return { kind: 'symlink', rel, target };
    }
    const what = st.isSocket() ? 'a socket' : st.isFIFO() ? 'a FIFO' : 'a device';
    throw new SourceError(`${shown} is ${what}, which cannot go into an image layer`, { file: shown }, `add ${JSON.stringify(rel)} to .dockerignore`);
}
/**
 * Each link, resolved through the other links as the tree will exist in the image, must stay in the
 * tree it ships with: a chain of links that each look harmless (`d1/d2/up -> ../..`, then
 * `esc -> d1/d2/up/../etc/passwd`) can still reach outside it, which a check of one target alone
 * cannot see. The kernel resolves `..` after each link, and so does ImageFilesystem.realpath.
 */
function checkLinksResolveInside(entries, prefixes) {
    if (!entries.some((e) => e.type === 'symlink'))
        return;
    const fs = new ImageFilesystem();
    fs.applyLayer(entries.map((e) => e.type === 'symlink'
        ? { path: e.path, type: 'symlink', linkTarget: e.target }
        : { path: e.path, type: e.type }));
    // Longest first, so a local package under `<workdir>/_local/` is its own tree.
    const roots = [...prefixes].sort((a, b) => b.length - a.length);
    for (const e of entries) {
        if (e.type !== 'symlink')
            continue;
        const root = roots.find((r) => r === '' || e.path.startsWith(`${r}/`)) ?? '';
        const real = fs.realpath(`/${e.path}`);
        // A loop of links resolves to nothing: useless, but it reaches nowhere outside either.
        if (real === null)
            continue;
        const inside = root === '' || real === `/${root}` || real.startsWith(`/${root}/`);
        if (!inside) {
            const rel = root === '' ? e.path : e.path.slice(root.length + 1);
            throw new SourceError(`symlink ${rel} -> ${e.target} resolves to ${real} in the image, outside /${root} (through other links of the tree)`, { file: rel }, `replace the link with the file it points to, or add ${JSON.stringify(rel)} to .dockerignore`);
        }
    }
}
/** Why a link at `rel` (inside its root) with this target cannot ship, or null when it can. */
function symlinkProblem(rel, target) {
    if (target === '')
        return 'has an empty target';
    if (target.includes('\n') || target.includes('\0'))
        return 'has a newline in its target';
    if (target.startsWith('/'))
        return 'has an absolute target, which would point elsewhere in the image';
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '.';
    const resolved = cleanPath(`${parent}/${target}`);
    if (resolved === '..' || resolved.startsWith('../'))
        return 'points outside the directory being shipped';
    return null;
}
/**
 * lstat many paths (null when missing). Synchronous on purpose: for a source tree in the page
 * cache a direct lstat costs a few microseconds, far less than a thread-pool round trip each.
 */
async function lstatAll(paths) {
    return paths.map((p) => {
        try {
            return node_fs.lstatSync(p);
        }
        catch (err) {
            const code = err.code;
            if (code === 'ENOENT' || code === 'ENOTDIR')
                return null;
            throw err;
        }
    });
}
// --- entries ------------------------------------------------------------------------------------
function toEntries(trees, imageRoot) {
    const entries = [];
    const dirs = new Set();
    const addDirs = (path) => {
        // `path` and every directory above it.
        for (let p = path; p !== '' && !dirs.has(p); p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '')
            dirs.add(p);
    };
    const parentOf = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
    let files = 0;
    let bytes = 0;
    addDirs(imageRoot);
    for (const { tree, prefix } of trees) {
        addDirs(prefix);
        for (const d of tree.dirs)
            addDirs(join2(prefix, d));
        for (const item of tree.items) {
            const path = join2(prefix, item.rel);
            addDirs(parentOf(path));
            if (item.kind === 'symlink') {
                entries.push({ type: 'symlink', path, target: item.target });
            }
            else {
                files++;
                bytes += item.size;
                const { abs } = item;
                entries.push({
                    type: 'file',
                    path,
                    executable: item.executable,
                    size: item.size,
                    // Source files are small: a synchronous read is far cheaper than three thread-pool
                    // round trips, and the tar writer reads them one after another anyway.
                    content: () => node_fs.readFileSync(abs),
                    diskPath: abs
                });
            }
        }
    }
    for (const d of dirs)
        entries.push({ type: 'dir', path: d });
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { entries, files, bytes };
}
/** The tree's file paths below `under` (`` for all), relative to it. */
function filesOf(tree, under) {
    if (under === '')
        return tree.items.map((i) => i.rel);
    const prefix = under + '/';
    return tree.items.filter((i) => i.rel.startsWith(prefix)).map((i) => i.rel.slice(prefix.length));
}
// --- import roots -------------------------------------------------------------------------------
function readPyproject(dir) {
    let text;
    try {
        text = node_fs.readFileSync(node_path.join(dir, 'pyproject.toml'), 'utf8');
    }
    catch {
        return null;
    }
    try {
        return parseToml(text, 'pyproject.toml');
    }
    catch {
        return null; // the plan reads (and reports on) the project's own; a broken member fails its install
    }
}
const table = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? v : null;
const strings = (v) => Array.isArray(v) ? v.filter((s) => typeof s === 'string') : [];
const at = (t, ...keys) => {
    let v = t;
    for (const k of keys)
        v = table(v)?.[k];
    return v;
};
/**
 * Where a package's modules import from, relative to its root (`.` or `src`...):
 * 1. what its build configuration says, when that directory has files: Poetry
 *    `packages = [{ include, from }]` (`from`, else the root), setuptools `package-dir = { "" = \u2026 }`
 *    or `packages.find.where`, uv_build `module-root`, Hatch wheel `packages` (their parents);
 * 2. else `src` when `src/` holds Python code (a module `src/x.py`, or a directory below `src/`
 *    with `.py` files) and is not itself a package (no `src/__init__.py`: then the code imports it
 *    as `src.\u2026` from the root);
 * 3. else the root.
 */
function importRoots(files, pyproject) {
    const dirs = new Set();
    for (const f of files)
        for (let i = f.indexOf('/'); i !== -1; i = f.indexOf('/', i + 1))
            dirs.add(f.slice(0, i));
    const exists = (d) => d === '.' || dirs.has(d);
    const declared = [];
    const poetry = at(pyproject, 'tool', 'poetry', 'packages');
    if (Array.isArray(poetry)) {
        for (const p of poetry) {
            const from = at(table(p), 'from');
            if (table(p))
                declared.push(typeof from === 'string' ? from : '.');
        }
    }
    const packageDir = at(pyproject, 'tool', 'setuptools', 'package-dir', '');
    if (typeof packageDir === 'string')
        declared.push(packageDir);
    declared.push(...strings(at(pyproject, 'tool', 'setuptools', 'packages', 'find', 'where')));
    const moduleRoot = at(pyproject, 'tool', 'uv', 'build-backend', 'module-root');
    if (typeof moduleRoot === 'string')
        declared.push(moduleRoot);
    for (const p of strings(at(pyproject, 'tool', 'hatch', 'build', 'targets', 'wheel', 'packages'))) {
        const clean = cleanPath(p);
        declared.push(clean.includes('/') ? clean.slice(0, clean.lastIndexOf('/')) : '.');
    }
    const roots = [...new Set(declared.map(cleanPath))].filter((d) => !d.startsWith('..') && !d.startsWith('/') && exists(d));
    if (roots.length > 0)
        return roots;
    const srcLayout = !files.includes('src/__init__.py') && files.some((f) => f.startsWith('src/') && f.endsWith('.py'));
    return [srcLayout ? 'src' : '.'];
}

// The source layer, the same for every variant. It is started at once, so the disk and CPU work
// runs while deps images are looked up or built, and it is uploaded while it is compressed, as
// docker push streams layers; on any trouble with the stream the bytes kept in memory go up the
// ordinary, retried way when a variant needs them.
function startSourceLayer(o) {
    const { plan, progress } = o;
    const localRefs = localPackagesOf(plan, node_path.dirname(plan.project.config.lock ?? 'pyproject.toml'));
    const start = node_perf_hooks.performance.now();
    const tree = collectSource({
        projectDir: plan.project.dir,
        workdir: plan.project.config.workdir,
        localPackages: localRefs,
        mode: o.mode
    });
    tree.catch(() => undefined);
    /** Set when no variant will use the layer (all failed): its upload is dropped without a word. */
    let abandoned = false;
    let built = null;
    const layer = (async () => {
        const source = await tree;
        progress(`source: ${source.files} files, ${formatBytes(source.bytes)}`);
        const upload = streamedUpload(o.store, 'the source layer', { abandoned: () => abandoned });
        const blob = await buildLayer(source.entries, {
            mtime: o.epoch,
            compression: o.compression,
            onChunk: upload.onChunk
        });
        const uploaded = await upload.commit({ mediaType: blob.mediaType, digest: blob.digest, size: blob.size }, progress);
        const seconds = (node_perf_hooks.performance.now() - start) / 1000;
        progress(`source layer ${blob.digest.slice(7, 19)}: ${formatBytes(blob.size)} in ${seconds.toFixed(2)} s`);
        built = { layer: { source, layer: blob, uploaded }, seconds };
        return built.layer;
    })();
    // Failures surface where a variant awaits the layer (or before a full path), never as an
    // unhandled rejection.
    let failure = null;
    layer.catch((e) => {
        failure = e;
    });
    let counted = false;
    return {
        localRefs,
        tree,
        layer,
        failure: () => failure,
        takeOutcome: (uploaded) => {
            // The streamed upload counts for the first variant that uses the layer.
            const outcome = counted ? undefined : (uploaded ?? undefined);
            counted ||= uploaded !== null;
            return outcome;
        },
        abandon: async () => {
            abandoned = true;
            await layer.catch(() => undefined);
        },
        summary: () => {
            const b = built;
            return b
                ? {
                    digest: b.layer.layer.digest,
                    size: b.layer.layer.size,
                    files: b.layer.source.files,
                    seconds: b.seconds
                }
                : null;
        }
    };
}

// Tags of the app images: templates with {variant}, {sha}, {ref}, expanded per variant and checked
// before any work (a bad template, or two variants given the same tag, fails the build up front).
const DEFAULT_TAG = '{variant}-{sha}';
/** Expand a tag template; the result must be a valid registry tag. */
function expandTag(template, values) {
    const tag = template.replace(/\{(variant|sha|ref)\}/g, (_, k) => values[k]);
    if (!TAG_PATTERN.test(tag)) {
        throw new ConfigError(`tag template ${JSON.stringify(template)} gives ${JSON.stringify(tag)}, which is not a valid tag`, { keyPath: 'tags' }, 'tags are letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"');
    }
    return tag;
}
/**
 * Each variant must get tags of its own, else the last push wins and the digests reported for the
 * others name images their tags no longer hold.
 */
function checkDistinctTags(templates, variants, values) {
    if (variants.length < 2)
        return;
    for (const t of templates) {
        const owner = new Map();
        for (const v of variants) {
            const tag = expandTag(t, values(v));
            const other = owner.get(tag);
            if (other !== undefined) {
                throw new ConfigError(`tag template ${JSON.stringify(t)} gives the same tag ${JSON.stringify(tag)} to variants ${other} and ${v}: the last one pushed would take it from the other`, { keyPath: 'tags' }, 'put {variant} in every tag template (e.g. "{variant}-{sha}"), or configure one variant');
            }
            owner.set(tag, v);
        }
    }
}
/** A branch or tag name as a tag: `feature/x` \u2192 `feature-x`. */
function refSlug(ref) {
    return (ref
        .replace(/^refs\/(heads|tags)\//, '')
        .replace(/[^\w.-]+/g, '-')
        .replace(/^[.-]+/, '')
        .slice(0, 100) || 'ref');
}

// The third stage: build what the decisions say. The source is collected once and its layer built
// once (started at once, see source-layer.ts); per variant, the deps image found is used as it is
// (fast path), or built (full path: the builder the plan chose, deps-builder.ts) and then used;
// the app image goes on top (app-build.ts). Variants are independent: one failing does not stop
// the others.
/** A variant that ends without an image: nothing pushed, and why. */
function unbuiltResult(v, path, error, seconds) {
    return {
        variant: v.variant,
        hash: v.hash,
        depsRef: v.depsRef,
        path,
        appRef: null,
        digest: null,
        tags: [],
        blobs: { uploaded: 0, mounted: 0, skipped: 0 },
        bytesUploaded: 0,
        seconds,
        error,
        sboms: [],
        full: null
    };
}
/** What the full path did, as reported. */
function fullReport(v, full, seconds) {
    const uploaded = full.layers.filter((l) => l.outcome === 'uploaded');
    return {
        layers: full.layers.length,
        layersUploaded: uploaded.length,
        layerBytesUploaded: uploaded.reduce((n, l) => n + l.size, 0),
        layersBuilt: full.layers.filter((l) => l.built).length,
        packagesCopied: full.layers.reduce((n, l) => n + l.copied, 0),
        wheels: full.wheels.total,
        wheelsDownloaded: full.wheels.downloaded,
        wheelsRestored: full.wheels.restored,
        downloadedSha256: full.wheels.downloadedSha256,
        bytesUploaded: full.stats.bytesUploaded,
        seconds,
        notes: full.notes,
        builder: v.builder.kind,
        builderReason: v.builder.kind === 'dockerfile' ? v.builder.reason : null,
        phases: full.phases ?? null
    };
}
/** The full path: the deps image built by the variant's builder, after the source is checked. */
async function buildDeps(ctx, v, d, hooks) {
    const say = (m) => ctx.progress(v.name, m);
    // The source is checked before any deps image is built: a link that leaves the tree or a file
    // that cannot be shipped fails the variant now, not after minutes of full path (the tree is
    // listed in a moment; the fast path never waits for it here, and the layer goes on compressing
    // while deps images build). A layer that already failed (an unreadable file) fails it too.
    const source = ctx.app.source;
    await source.tree;
    if (source.failure() !== null)
        throw source.failure();
    say(d.reason === 'invalidated'
        ? `rebuilding deps image ${d.depsRef}`
        : `deps image ${d.depsRef} is missing: full path`);
    const start = node_perf_hooks.performance.now();
    const result = await depsBuilderFor(v, ctx.deps).build(v, d.tag, say, hooks);
    const seconds = (node_perf_hooks.performance.now() - start) / 1000;
    for (const n of result.notes)
        say(`note: ${n}`);
    say(`deps image ${d.depsRef} pushed (${result.image.digest.slice(0, 19)}), ${formatBytes(result.stats.bytesUploaded)} uploaded in ${seconds.toFixed(1)} s`);
    return { result, seconds };
}
/** A variant that got its image: what was pushed (keys in the order the JSON output shows them). */
function builtResult(d, pushed, tags, rest, store) {
    const { stats } = pushed;
    return {
        variant: d.variant,
        hash: d.hash,
        depsRef: d.depsRef,
        path: rest.full ? 'full' : 'fast',
        appRef: `${store.name}:${tags[0]}@${pushed.digest}`,
        digest: pushed.digest,
        tags,
        blobs: { uploaded: stats.uploaded, mounted: stats.mounted, skipped: stats.skipped },
        bytesUploaded: stats.bytesUploaded,
        seconds: rest.seconds,
        error: null,
        sboms: rest.sboms,
        full: rest.full
    };
}
/** One variant: its deps image as decided (found, built, or missing), then its app image. */
async function executeVariant(ctx, v, d) {
    const start = node_perf_hooks.performance.now();
    const seconds = () => (node_perf_hooks.performance.now() - start) / 1000;
    const { plan, store } = ctx.app;
    const say = (m) => ctx.progress(v.name, m);
    try {
        // Checked now, before any deps image is built (a package pip cannot install at start fails
        // the variant early); written once the deps image says where its Python reads packages.
        checkRuntime(v, plan.lock.path, plan.install);
        // A lookup that failed fails the variant (never a rebuild on a guess).
        if (d.error)
            throw d.error;
        if (!d.depsImage && !ctx.fullPath) {
            say(`deps image ${d.depsRef} is missing: the full path (building it) is needed`);
            const error = `deps image ${d.depsRef} is missing: full path needed (build the deps image for hash ${v.shortHash})`;
            return unbuiltResult(d, 'missing', error, seconds());
        }
        const tags = ctx.tagsOf(v.name);
        // Each platform's app image has two new blobs (its config, its SBOM): their upload sessions
        // are opened while the image is made (see the finally below for those left over).
        store.openUploads?.(v.platforms.length * 2);
        // A deps image built now is handed over before it is written: the app image is made and its
        // blobs go up meanwhile (its manifests wait for the deps image's).
        // (Set in a callback: typed by `as`, so that the compiler does not take it for null below.)
        let early = null;
        let full = null;
        if (!d.depsImage) {
            // The image these tags name now (the previous build's) holds most of the layers about to
            // be checked, all but those of the packages that changed: read once, it spares a HEAD each.
            for (const t of tags)
                store.recallImage?.(t);
            try {
                full = await buildDeps(ctx, v, d, {
                    onImage: (image, written) => {
                        // From the next turn of the event loop: the deps image's last uploads are sent first,
                        // not held back by the app image's own work (its config).
                        early = handled(new Promise((next) => setImmediate(next)).then(() => buildAppImage(ctx.app, ctx.projectLayerFor, v, image, tags, written)));
                    },
                    // Its SBOMs are made while the layers build, in the main thread's idle time there
                    // rather than on the way to a download or to the manifests.
                    onLayersBuilding: () => prepareSboms(ctx.app, v)
                });
            }
            catch (e) {
                // Its uploads end before the variant's failure is reported (and the store is closed).
                await early?.catch(() => undefined);
                throw e;
            }
        }
        const deps = d.depsImage ?? full.result.image;
        if (!full)
            say(`deps image ${d.depsRef} found (${deps.digest.slice(0, 19)}): fast path`);
        const { pushed, sboms } = await (early ?? buildAppImage(ctx.app, ctx.projectLayerFor, v, deps, tags));
        const result = builtResult(d, pushed, tags, { sboms, seconds: seconds(), full: full ? fullReport(v, full.result, full.seconds) : null }, store);
        say(`pushed ${store.name}:${tags.join(', ')} (${pushed.digest.slice(0, 19)}), ${formatBytes(pushed.stats.bytesUploaded)} uploaded`);
        return result;
    }
    catch (e) {
        say(`failed: ${describeError(e)}`);
        return unbuiltResult(d, 'failed', describeError(e), seconds());
    }
    finally {
        // Upload sessions opened ahead (here and by the full path) that no blob took are closed.
        await store.dropUploads?.();
    }
}
/** The tags of each variant (templates checked before any work, so a bad one fails up front). */
function tagsOf(o, planned, sha, env) {
    const values = (variant) => ({
        variant,
        sha,
        ref: refSlug(env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || 'local')
    });
    const templates = o.tags && o.tags.length > 0 ? o.tags : [DEFAULT_TAG];
    const { variants } = planned.plan;
    for (const v of variants)
        for (const t of templates)
            expandTag(t, values(v.name));
    checkDistinctTags(templates, o.distinctTagsFor ?? variants.map((v) => v.name), values);
    return (variant) => templates.map((t) => expandTag(t, values(variant)));
}
/** What the variants of this build share: the source layer, the Pythons, the builders' context. */
async function variantContext(planned, o, cacheDir, sites) {
    const { plan } = planned;
    const env = o.env ?? process.env;
    const progress = o.onProgress ?? (() => { });
    const git = await gitInfo(plan.project.dir, env);
    for (const w of git.warnings)
        progress(null, `warning: ${w}`);
    const epoch = buildEpoch(git, env);
    const tags = tagsOf(o, planned, git.tagSha, env);
    const compression = o.compression ?? plan.project.config.compression;
    const source = startSourceLayer({
        plan,
        store: o.store,
        mode: o.sourceMode ?? 'auto',
        compression,
        epoch,
        progress: (m) => progress(null, m)
    });
    const app = {
        plan,
        store: o.store,
        sites,
        source,
        compression,
        git,
        created: new Date(epoch * 1000).toISOString(),
        progress
    };
    const mirrorUrl = o.indexUrl ?? plan.project.config.indexUrl ?? env['FAST_BUILD_INDEX_URL'] ?? null;
    const cache = new CacheLayout(cacheDir);
    const deps = {
        planned,
        store: o.store,
        sites,
        cache,
        artifacts: o.artifacts ?? new ArtifactCache(cache.artifacts),
        env,
        mirrorUrl,
        compression,
        ...(o.maxLayers !== undefined ? { maxLayers: o.maxLayers } : {}),
        ...(o.restoreWheels ? { restoreWheels: o.restoreWheels } : {})
    };
    return {
        app,
        deps,
        fullPath: o.fullPath !== false,
        tagsOf: tags,
        projectLayerFor: projectLayers(app),
        progress
    };
}
/**
 * Build every planned variant as decided. `decisions` may still be on their way (the lookups run
 * while the source layer is started).
 */
async function executeBuild(planned, decisions, o) {
    const { plan } = planned;
    const progress = o.onProgress ?? (() => { });
    const cacheDir = o.cacheDir ?? defaultCacheDir(o.env ?? process.env);
    const sites = new PythonSites(plan, planned.base, {
        store: o.store,
        ...(o.base ? { baseOptions: o.base } : {}),
        cacheDir,
        progress
    });
    let artifacts = null;
    try {
        const ctx = await variantContext(planned, o, cacheDir, sites);
        artifacts = ctx.deps.artifacts;
        // A bump's few new wheels start downloading while the deps images are still looked up.
        if (ctx.fullPath)
            for (const v of plan.variants)
                depsBuilderFor(v, ctx.deps).prefetch?.(v);
        const byName = new Map((await decisions).map((d) => [d.variant, d]));
        const results = [];
        for (const v of plan.variants)
            results.push(await executeVariant(ctx, v, byName.get(v.name)));
        // Variants that did not plan (a declared conflict, a stale selection) fail here too, so every
        // variant asked for has a result.
        for (const f of plan.failed ?? []) {
            progress(f.name, `failed: ${describeError(f.error)}`);
            results.push(unbuiltResult({ variant: f.name, hash: '', depsRef: '' }, 'failed', describeError(f.error), 0));
        }
        // Nobody needs the source layer: stop its upload quietly and let it settle before returning.
        if (!results.some((r) => r.digest !== null))
            await ctx.app.source.abandon();
        return {
            store: o.store.name,
            revision: ctx.app.git.revision,
            sourceLayer: ctx.app.source.summary(),
            variants: results
        };
    }
    finally {
        // The base image's registry connection (kept for the full path) is closed whatever happened;
        // a download started ahead of a variant that did not need it ends before the build does.
        await Promise.all([sites.close(), artifacts?.settled()]);
    }
}

// The first stage of a build: the plan, made once, with the base image pinned first (its digest
// is part of every variant hash, and with python taken from the base image, its Python decides
// the target). What the later stages ask of the plan again and again (the wheel each package
// installs on each platform, which variants share a wheel) is worked out here, once, on demand.
const PINNED = /@sha256:[a-f0-9]{64}$/;
/** The python and base image a plan of these options targets, before any variant is planned. */
function targetOf(input) {
    const { project, lock, options } = input;
    try {
        const python = options.python ?? project.config.python ?? derivePython(project, lock, []);
        return { python, baseImage: baseImageFor(project.config, python, options) };
    }
    catch (e) {
        // No python to target: planProject says so, with the same error.
        if (e instanceof ConfigError)
            return null;
        throw e;
    }
}
/**
 * The base image reference to look up before planning; null when there is none to look up (pinned
 * already, and the python is not the base image's).
 */
function toPin(input) {
    const target = targetOf(input);
    if (!target)
        return null;
    return !PINNED.test(target.baseImage) || pythonFromBase(input) ? target.baseImage : null;
}
function platformsOf(input) {
    const asked = input.options.platforms ?? [];
    return asked.length > 0 ? asked : input.project.config.platforms;
}
/**
 * With a base image of its own and no python set, the target python is the base image's: the one
 * its packages must load in (requires-python's lowest would install wheels of another ABI).
 */
function pythonFromBase(input) {
    const c = input.project.config;
    return c.baseImage !== null && c.python === null && input.options.python === undefined && c.pythonInBase;
}
/** The base image pinned (and, when it decides the python, that python and a note saying so). */
async function pinBaseOf(input, reference, o) {
    const base = await resolveBase(reference, platformsOf(input), { ...o.base, cwd: input.project.dir });
    const options = { ...input.options, baseImage: base.pinned };
    if (!pythonFromBase(input))
        return { base, options, note: null };
    const pi = base.image.platforms[0];
    const facts = await imagePythonFacts({
        store: base.store,
        manifestDigest: pi.manifestDigest,
        layers: pi.manifest.layers,
        config: pi.config,
        cacheDir: o.cacheDir ?? null,
        what: `base image ${reference} (${formatPlatform(pi.platform)})`,
        ...(o.onProgress ? { onProgress: o.onProgress } : {})
    }).catch((e) => {
        base.store.close?.();
        throw e;
    });
    // No Python at all is reported where the layout is decided (with the fix), not here.
    if (!facts.python)
        return { base, options, note: null };
    const v = facts.python.version;
    return {
        base,
        options: { ...options, python: { major: v.major, minor: v.minor, patch: v.patch ?? undefined } },
        note: `python ${v.major}.${v.minor}${v.patch !== null ? `.${v.patch}` : ''}: the base image's (${facts.python.executable} in ${reference}); set python under [tool.fast-build] to choose it yourself`
    };
}
/** planProject, with a requires-python the base image's Python falls outside of said so. */
function planWith(input, options, fromBase) {
    try {
        return planProject(input.project, input.lock, options);
    }
    catch (e) {
        if (fromBase && e instanceof ConfigError && /requires-python/.test(e.message))
            throw new ConfigError(`the base image's ${e.message}`, e.location, `choose a base image whose Python requires-python allows, or set python under [tool.fast-build] (it must match the base image's)`);
        throw e;
    }
}
/**
 * Plan once: the base image pinned to its digest first (no lookup when the reference is pinned
 * already and the python is not the base image's), then every variant asked for.
 */
async function planBuild(input, o = {}) {
    const reference = o.pin === false ? null : toPin(input);
    const fromBase = pythonFromBase(input);
    const pinned = reference !== null ? await pinBaseOf(input, reference, o) : null;
    let plan;
    try {
        plan = planWith(input, pinned?.options ?? input.options, fromBase && pinned?.note != null);
    }
    catch (e) {
        pinned?.base.store.close?.();
        throw e;
    }
    // A python the base image decided replaces the note of requires-python's lowest.
    const notes = [...new Set([...input.notes, ...plan.notes])].filter((n) => !(pinned?.note && n.includes(': the lowest version ')));
    return withChoices({ ...plan, notes: pinned?.note ? [...notes, pinned.note] : notes }, pinned?.base ?? null);
}
/**
 * An existing plan with the base image pinned (planned again when there is something to pin): for
 * callers that planned already. A build plans once through planBuild.
 */
async function pinPlan(plan, o = {}) {
    const input = {
        project: plan.project,
        lock: plan.lock,
        options: plan.options,
        notes: plan.notes
    };
    return toPin(input) === null ? withChoices(plan, null) : planBuild(input, o);
}
/** The plan with its wheel choices and sharing, worked out when first asked. */
function withChoices(plan, base) {
    const choices = new Map();
    const wheelsOf = (p) => {
        let c = choices.get(p);
        if (!c) {
            c = chooseWheels(p.closure.installed.map((e) => e.package), p.target);
            choices.set(p, c);
        }
        return c;
    };
    let shared = null;
    const sharing = (platform, sha256) => {
        shared ??= sharingOf(plan, wheelsOf);
        return shared.get(`${formatPlatform(platform)}|${sha256}`) ?? [];
    };
    return { plan, base, wheelsOf, sharing };
}
/**
 * Which variants of the whole configuration install each wheel, per platform. A plan of some
 * variants (--variant) plans the others too, only those, with the same (pinned) options.
 */
function sharingOf(plan, wheelsOf) {
    const planned = new Set(plan.variants.map((v) => v.name));
    const others = plan.project.config.variants.map((v) => v.name).filter((n) => !planned.has(n));
    const rest = others.length === 0 || (plan.options.variants ?? []).length === 0
        ? []
        : planProject(plan.project, plan.lock, { ...plan.options, variants: others }).variants;
    // In the configuration's order, as layering names the variants of a shared layer.
    const order = plan.project.config.variants.map((v) => v.name);
    const all = [...plan.variants, ...rest].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    const map = new Map();
    for (const v of all) {
        for (const p of v.platforms) {
            for (const c of wheelsOf(p).chosen) {
                const key = `${formatPlatform(p.platform)}|${c.sha256}`;
                map.set(key, [...(map.get(key) ?? []), v.name]);
            }
        }
    }
    return map;
}

// The second stage: which path each variant takes, decided from the registry alone. The tag
// `deps-<variant>-<hash16>` is the truth: present \u2192 fast path; absent \u2192 full path; named by
// `invalidate` (--rebuild) \u2192 full path anyway. Each deps image is looked up once, here; the build
// takes the image found from the decision. A lookup that fails (auth, network, a tag holding an
// image of other platforms) is kept with its error: the variant fails, in the matrix and in the
// build alike, rather than being rebuilt on a guess.
function isInvalidated(variant, invalidate) {
    return invalidate === 'all' || invalidate.includes(variant);
}
/** Variants named for a rebuild must exist (a typo would rebuild nothing without a word). */
function checkRebuild(plan, rebuild) {
    for (const name of rebuild === 'all' ? [] : rebuild) {
        if (!plan.variants.some((v) => v.name === name)) {
            throw new ConfigError(`--rebuild names unknown variant ${JSON.stringify(name)}`, {}, `variants are: ${plan.variants.map((v) => v.name).join(', ')}`);
        }
    }
}
/** One variant's decision: its deps image looked up, unless it is to be rebuilt anyway. */
async function decide(v, store, invalidate) {
    const tag = depsTag(v.name, v.shortHash);
    const d = { variant: v.name, hash: v.hash, shortHash: v.shortHash, tag, depsRef: `${store.name}:${tag}` };
    if (isInvalidated(v.name, invalidate))
        return { ...d, depsImage: null, reason: 'invalidated', error: null };
    try {
        const found = await resolveDepsImage(store, tag, v.platforms.map((p) => p.platform));
        return { ...d, depsImage: found, reason: found ? 'fast' : 'full', error: null };
    }
    catch (e) {
        return { ...d, depsImage: null, reason: 'failed', error: e instanceof Error ? e : new Error(String(e)) };
    }
}
/** Every planned variant's decision, looked up together, in the plan's order. */
function resolveVariants(plan, store, invalidate) {
    return Promise.all(plan.variants.map((v) => decide(v, store, invalidate)));
}

function isBuildPlan(p) {
    return 'wheelsOf' in p;
}
async function runBuild(o) {
    const progress = o.onProgress ?? (() => { });
    const rebuild = o.rebuild ?? [];
    const given = o.plan;
    checkRebuild(isBuildPlan(given) ? given.plan : given, rebuild);
    const cacheDir = o.cacheDir ?? defaultCacheDir(o.env ?? process.env);
    const planned = isBuildPlan(given)
        ? given
        : await pinPlan(given, {
            ...(o.base ? { base: o.base } : {}),
            cacheDir,
            onProgress: (m) => progress(null, m)
        });
    // What pinning learnt (the base image's python) the caller has not printed yet.
    if (!isBuildPlan(given))
        for (const n of planned.plan.notes)
            if (!given.notes.includes(n))
                progress(null, `note: ${n}`);
    // The lookups run while the build starts on the source layer.
    const decisions = o.decisions ?? resolveVariants(planned.plan, o.store, rebuild);
    return executeBuild(planned, decisions, { ...o, cacheDir });
}

// From what a user typed (`oci:DIR`, `HOST/REPO`) to an ImageStore, with credentials resolved
// in order: explicit ones, then the Docker config (docker login / docker/login-action).
/**
 * The reference with its repository path lowercased (`ghcr.io/Acme/App:v1` \u2192 `ghcr.io/acme/app:v1`),
 * or null when that path has no capitals. Registries take only lowercase repository names, while
 * GitHub owners and repositories keep theirs (`ghcr.io/${{ github.repository }}`). The host, tag
 * and digest are left as they are (hosts are case-insensitive, tags may hold capitals).
 */
function lowercaseRepository(text) {
    const t = text.trim();
    const at = t.indexOf('@');
    const digest = at >= 0 ? t.slice(at) : '';
    let rest = at >= 0 ? t.slice(0, at) : t;
    let tag = '';
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
        tag = rest.slice(colon);
        rest = rest.slice(0, colon);
    }
    // The first component is a host when it looks like one, as parseImageReference decides.
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    const host = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : null;
    const path = host === null ? rest : rest.slice(slash + 1);
    if (path === path.toLowerCase())
        return null;
    return `${host === null ? '' : `${host}/`}${path.toLowerCase()}${tag}${digest}`;
}
function parseStoreSpec(text, where = '--store') {
    const t = text.trim();
    if (t.startsWith('oci:')) {
        const dir = t.slice(4);
        if (!dir)
            throw new ConfigError(`${where}: oci: needs a directory`, {}, 'write oci:./images');
        return { kind: 'layout', dir };
    }
    const image = t.replace(/^(docker|registry):(\/\/)?/, '');
    const lower = lowercaseRepository(image);
    if (lower !== null) {
        // Said apart from "not an image reference": the fix is known, and it is not a typo.
        throw new ConfigError(`${where}: ${JSON.stringify(image)} has capitals in its repository name, and registries take only lowercase repository names`, {}, `write ${lower}`);
    }
    parseImageReference(image, where);
    return { kind: 'registry', image };
}
async function openStore(spec, opts = {}) {
    if (spec.kind === 'layout') {
        const store = new LayoutStore(node_path.resolve(opts.cwd ?? '.', spec.dir));
        store.init();
        return store;
    }
    const ref = parseImageReference(spec.image);
    if (ref.tag || ref.digest) {
        throw new ConfigError(`${spec.image}: give the repository without a tag or digest`, {}, 'tags come from --tag');
    }
    const credential = opts.credential ??
        (await credentialFromDockerConfig(ref.host, opts.dockerConfig ? { path: opts.dockerConfig } : {}));
    return new RegistryClient({ host: ref.host, repository: ref.repository }, { ...opts, credential });
}
// --- the CLI's default store ---------------------------------------------------------------------
//
// The default layout is kept in the cache directory, outside the project: inside it, a walk of the
// source (no git) would pack the previous images into the next, and git status would list it.
// Podman 4 names an image pulled from `oci:DIR:TAG` after DIR itself (`localhost/<DIR>`), so it
// refuses a DIR with a dot-folder (`~/.cache`) or capitals ("invalid reference format"); skopeo
// does not mind. The store's own name is therefore podman-safe, and the build prints a command
// that runs from its parent (`podman run oci:<id>:TAG`), which podman takes whatever the path.
/** One path component as a repository name component: lowercase, `.` `_` `-` only between. */
const PODMAN_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/**
 * `my-app-1f3e9a0c`: the project directory's name as a lowercase slug (at most 40 characters,
 * `project` when nothing is left) and 8 hex digits of its absolute path's sha256, so two checkouts
 * of one project (or two projects of one name) keep their images apart.
 */
function projectId(projectDir) {
    const abs = node_path.resolve(projectDir);
    const slug = node_path.basename(abs)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .slice(0, 40)
        .replace(/^-+|-+$/g, '') || 'project';
    return `${slug}-${node_crypto.createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
}
/** `<cacheDir>/oci/<projectId>`: where `fast-build build` puts images when given no store. */
function defaultStoreDir(projectDir, cacheDir) {
    return node_path.join(new CacheLayout(cacheDir).stores, projectId(projectDir));
}
/** Whether podman 4 can pull `oci:<dir>:TAG` by that absolute path (it makes it an image name). */
function podmanAcceptsPath(dir) {
    const parts = node_path.resolve(dir)
        .split('/')
        .filter((p) => p !== '');
    return (parts.length > 0 &&
        parts.every((p) => PODMAN_COMPONENT.test(p)) &&
        `localhost/${parts.join('/')}`.length <= 255);
}
/** A command that runs the image `tag` of the layout `dir` with podman (see podmanAcceptsPath). */
function podmanRunCommand(dir, tag) {
    const abs = node_path.resolve(dir);
    const quote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
    if (podmanAcceptsPath(abs))
        return `podman run --rm oci:${quote(`${abs}:${tag}`)}`;
    if (PODMAN_COMPONENT.test(node_path.basename(abs)))
        return `(cd ${quote(node_path.dirname(abs))} && podman run --rm oci:${quote(`${node_path.basename(abs)}:${tag}`)})`;
    return `skopeo copy oci:${quote(`${abs}:${tag}`)} containers-storage:localhost/fast-build:${tag} && podman run --rm localhost/fast-build:${tag}`;
}

// `fast-build build`, loaded by the CLI only when asked for (see runCli): the flags translated
// into the build's stages (plan once with the base image pinned, then resolve and execute in
// runBuild), and its result into a table or JSON.
/** The flags of `build`, checked. */
function parseBuildArgs(args) {
    const { values, positionals } = node_util.parseArgs({
        args: [...args],
        options: {
            project: { type: 'string', default: '.' },
            store: { type: 'string' },
            registry: { type: 'string' },
            variant: { type: 'string', multiple: true },
            platform: { type: 'string', multiple: true },
            python: { type: 'string' },
            tag: { type: 'string', multiple: true },
            source: { type: 'string', default: 'auto' },
            compression: { type: 'string' },
            rebuild: { type: 'string', multiple: true },
            'fast-only': { type: 'boolean', default: false },
            'cache-dir': { type: 'string' },
            'index-url': { type: 'string' },
            builder: { type: 'string' },
            dockerfile: { type: 'string' },
            'dockerfile-target': { type: 'string' },
            'dockerfile-command': { type: 'string' },
            json: { type: 'boolean', default: false },
            quiet: { type: 'boolean', default: false }
        },
        allowPositionals: true
    });
    if (positionals.length > 0)
        throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.store && values.registry)
        throw new UsageError('give --store or --registry, not both');
    if (values['fast-only'] && (values.rebuild ?? []).length > 0)
        throw new UsageError('--rebuild builds deps images, which --fast-only forbids: give one or the other');
    const source = values.source;
    if (!['auto', 'git', 'walk'].includes(source))
        throw new UsageError(`--source must be auto, git or walk`);
    const compression = values.compression;
    if (compression !== undefined && !['gzip', 'zstd', 'none'].includes(compression))
        throw new UsageError(`--compression must be gzip, zstd or none`);
    return {
        values,
        source: source,
        // Absent: compression under [tool.fast-build].
        compression: compression,
        cacheDir: values['cache-dir'] ? node_path.resolve(values['cache-dir']) : undefined
    };
}
/**
 * Where the images go: --registry, --store, or (neither) a layout in the cache directory, one per
 * project (see defaultStoreDir), never inside the project, where a walk of the source would pack it.
 */
function storeSpecOf(a, projectDir) {
    const { values } = a;
    if (values.registry)
        return parseStoreSpec(values.registry, '--registry');
    if (values.store !== undefined)
        return parseStoreSpec(values.store, '--store');
    return { kind: 'layout', dir: defaultStoreDir(projectDir, a.cacheDir ?? defaultCacheDir(process.env)) };
}
/** The store, with the registry credentials of the environment when it has them. */
function openBuildStore(spec, io) {
    const user = process.env['FAST_BUILD_REGISTRY_USERNAME'];
    const password = process.env['FAST_BUILD_REGISTRY_PASSWORD'];
    return openStore(spec, {
        ...(user && password
            ? {
                credential: {
                    kind: 'basic',
                    username: user,
                    password,
                    source: 'FAST_BUILD_REGISTRY_USERNAME/PASSWORD'
                }
            }
            : {}),
        onRetry: (m, delay) => io.err(`retrying in ${(delay / 1000).toFixed(1)} s: ${m}\n`)
    });
}
/** The result as JSON or a table, then where the images went; the exit code. */
function printResult(result, a, spec, io) {
    const { values } = a;
    if (values.json) {
        io.out(JSON.stringify(result, null, 2) + '\n');
    }
    else {
        const rows = result.variants.map((v) => [
            v.variant,
            v.path,
            v.depsRef.slice(v.depsRef.lastIndexOf(':') + 1),
            v.appRef ? `${v.appRef.slice(0, v.appRef.indexOf('@'))}@${v.digest.slice(0, 19)}` : '-',
            `${v.blobs.uploaded}/${v.blobs.mounted}/${v.blobs.skipped}`,
            // The full path's uploads (the deps image) count too.
            formatBytes(v.bytesUploaded + (v.full?.bytesUploaded ?? 0)),
            v.seconds.toFixed(2)
        ]);
        io.out(renderTable(['variant', 'path', 'deps', 'app image', 'up/mnt/skip', 'uploaded', 'seconds'], rows));
        for (const v of result.variants)
            if (v.error)
                io.err(`${v.variant}: ${v.error}\n`);
    }
    if (!values.quiet) {
        // Where the images went (absolute: the store's name is), and for a layout how to run one.
        io.err(`images: ${result.store}\n`);
        const tag = result.variants.find((v) => v.tags.length > 0)?.tags[0];
        if (spec.kind === 'layout' && tag)
            io.err(`run one: ${podmanRunCommand(node_path.resolve(spec.dir), tag)}\n`);
    }
    return result.variants.every((v) => v.path === 'fast' || v.path === 'full') ? 0 : 1;
}
async function cmdBuild(args, io) {
    const a = parseBuildArgs(args);
    const { values, cacheDir } = a;
    // git lists the source files in its own process while the lock is read and planned.
    prefetchSource(node_path.resolve(values.project), a.source);
    const input = planInputOf({
        project: values.project,
        variants: values.variant ?? [],
        platforms: values.platform ?? [],
        ...(values.python ? { python: values.python } : {}),
        ...(values.builder ? { builder: values.builder } : {}),
        ...(values.dockerfile ? { dockerfile: values.dockerfile } : {}),
        ...(values['dockerfile-target'] ? { dockerfileTarget: values['dockerfile-target'] } : {}),
        ...(values['dockerfile-command'] ? { dockerfileCommand: values['dockerfile-command'] } : {})
    });
    const spec = storeSpecOf(a, input.project.dir);
    const store = await openBuildStore(spec, io);
    const say = values.quiet
        ? undefined
        : (variant, m) => io.err(`${variant ? `${variant}: ` : ''}${m}\n`);
    let planned = null;
    try {
        planned = await planBuild(input, {
            cacheDir: cacheDir ?? defaultCacheDir(process.env),
            ...(say ? { onProgress: (m) => say(null, m) } : {})
        });
        for (const n of planned.plan.notes)
            io.err(`note: ${n}\n`);
        const result = await runBuild({
            plan: planned,
            store,
            tags: values.tag ?? [],
            sourceMode: a.source,
            ...(a.compression ? { compression: a.compression } : {}),
            rebuild: (values.rebuild ?? []).includes('all') ? 'all' : (values.rebuild ?? []),
            fullPath: !values['fast-only'],
            ...(cacheDir ? { cacheDir } : {}),
            ...(values['index-url'] ? { indexUrl: values['index-url'] } : {}),
            onProgress: say
        });
        return printResult(result, a, spec, io);
    }
    finally {
        // The base image's registry connection (the plan stage's) and the store's, whatever happened.
        planned?.base?.store.close?.();
        store.close?.();
    }
}

var cliBuild = /*#__PURE__*/Object.freeze({
    __proto__: null,
    cmdBuild: cmdBuild
});

package main

import (
	"errors"
	"strings"
)

// splitWords splits a command line the way a POSIX shell splits words, with
// single quotes, double quotes and backslashes, but without expansions: the
// warm-up command must run in images that have no shell.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if escaped {
		return nil, errors.New("ends in a lone backslash")
	}
	if quote != 0 {
		return nil, errors.New("unterminated " + string(quote) + " quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

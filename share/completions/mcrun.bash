#!/bin/bash

__mcrun_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__mcrun_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__mcrun_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__mcrun_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_mcrun() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __mcrun_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    start|stop|ps|show|attach|adopt|send|park|unpark|killswitch|breaker|config|doctor|metrics|activity|agent|logs|signal|harvest|events|event-hooks|serve|reset|help)
        # Offer subcommand argument completions
        "_mcrun_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'start stop ps show attach adopt send park unpark killswitch breaker config doctor metrics activity agent logs signal harvest events event-hooks serve reset help' -- "${cur}"))
        ;;
    esac
}

_mcrun_start() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --adopt --force --version -h --help)
    repeating_options=(--env)
    non_repeating_options=(--state-dir --actor --owner --cwd --timeout --agent --resume-argv --memory-max --cpu-weight --pids-max)
    __mcrun_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--owner')
        return
        ;;
    '--cwd')
        return
        ;;
    '--env')
        return
        ;;
    '--timeout')
        return
        ;;
    '--agent')
        return
        ;;
    '--resume-argv')
        return
        ;;
    '--memory-max')
        return
        ;;
    '--cpu-weight')
        return
        ;;
    '--pids-max')
        return
        ;;
    esac
}

_mcrun_stop() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --all --exec-stop --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reason --grace --signal --interrupt-key)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reason')
        return
        ;;
    '--grace')
        return
        ;;
    '--signal')
        __mcrun_add_completions -W 'TERM'$'\n''INT'$'\n''HUP'$'\n''QUIT'
        return
        ;;
    '--interrupt-key')
        return
        ;;
    esac
}

_mcrun_ps() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --all --busy-detail --watch --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --harvest-timeout --interval)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--harvest-timeout')
        return
        ;;
    '--interval')
        return
        ;;
    esac
}

_mcrun_show() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --events)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--events')
        return
        ;;
    esac
}

_mcrun_attach() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --rw --print --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    esac
}

_mcrun_adopt() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --force --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --owner)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--owner')
        return
        ;;
    esac
}

_mcrun_send() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --queue --interrupt --no-enter --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --file --wait --receipt)
    __mcrun_offer_flags_options 2

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--file')
        return
        ;;
    '--wait')
        return
        ;;
    '--receipt')
        return
        ;;
    esac
}

_mcrun_park() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reason --grace --signal --interrupt-key)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reason')
        return
        ;;
    '--grace')
        return
        ;;
    '--signal')
        __mcrun_add_completions -W 'TERM'$'\n''INT'$'\n''HUP'$'\n''QUIT'
        return
        ;;
    '--interrupt-key')
        return
        ;;
    esac
}

_mcrun_unpark() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reason)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reason')
        return
        ;;
    esac
}

_mcrun_killswitch() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reason)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reason')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __mcrun_add_completions -W 'on'$'\n''off'$'\n''status'
        return
        ;;
    esac
}

_mcrun_breaker() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reason)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reason')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __mcrun_add_completions -W 'status'$'\n''close'
        return
        ;;
    esac
}

_mcrun_config() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor)
    __mcrun_offer_flags_options 2

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    esac
}

_mcrun_doctor() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    esac
}

_mcrun_metrics() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    esac
}

_mcrun_activity() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --ticket --episode --nonce)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--ticket')
        return
        ;;
    '--episode')
        return
        ;;
    '--nonce')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __mcrun_add_completions -W 'busy'$'\n''idle'$'\n''waiting'
        return
        ;;
    esac
}

_mcrun_agent() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __mcrun_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    report|setup)
        # Offer subcommand argument completions
        "_mcrun_agent_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'report setup' -- "${cur}"))
        ;;
    esac
}

_mcrun_agent_report() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--from)
    __mcrun_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--from')
        return
        ;;
    esac
}

_mcrun_agent_setup() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --user --dry-run --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --project)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--project')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __mcrun_add_completions -W 'claude-code'$'\n''codex'$'\n''aider'
        return
        ;;
    esac
}

_mcrun_logs() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger -f --raw --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor -n --episode)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '-n')
        return
        ;;
    '--episode')
        return
        ;;
    esac
}

_mcrun_signal() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --payload --summary --ticket --episode --nonce)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--payload')
        return
        ;;
    '--summary')
        return
        ;;
    '--ticket')
        return
        ;;
    '--episode')
        return
        ;;
    '--nonce')
        return
        ;;
    esac
}

_mcrun_harvest() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --episode --harvest-timeout --lines)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--episode')
        return
        ;;
    '--harvest-timeout')
        return
        ;;
    '--lines')
        return
        ;;
    esac
}

_mcrun_events() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --follow --version -h --help)
    repeating_options=(--kind)
    non_repeating_options=(--state-dir --actor --since --ticket)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--since')
        return
        ;;
    '--ticket')
        return
        ;;
    '--kind')
        return
        ;;
    esac
}

_mcrun_event-hooks() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __mcrun_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    deliver|list)
        # Offer subcommand argument completions
        "_mcrun_event-hooks_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'deliver list' -- "${cur}"))
        ;;
    esac
}

_mcrun_event-hooks_deliver() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --once --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --hooks-dir --timeout --max-attempts --backoff --max-backoff --poll)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--hooks-dir')
        return
        ;;
    '--timeout')
        return
        ;;
    '--max-attempts')
        return
        ;;
    '--backoff')
        return
        ;;
    '--max-backoff')
        return
        ;;
    '--poll')
        return
        ;;
    esac
}

_mcrun_event-hooks_list() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --state --event --limit)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--state')
        return
        ;;
    '--event')
        return
        ;;
    '--limit')
        return
        ;;
    esac
}

_mcrun_serve() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reconcile-interval --max-silent-retries --retry-delay --launch-timeout --hooks-dir --metrics-textfile)
    __mcrun_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reconcile-interval')
        return
        ;;
    '--max-silent-retries')
        return
        ;;
    '--retry-delay')
        return
        ;;
    '--launch-timeout')
        return
        ;;
    '--hooks-dir')
        return
        ;;
    '--metrics-textfile')
        return
        ;;
    esac
}

_mcrun_reset() {
    repeating_flags=()
    non_repeating_flags=(--json --recreate-ledger --version -h --help)
    repeating_options=()
    non_repeating_options=(--state-dir --actor --reason)
    __mcrun_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--state-dir')
        return
        ;;
    '--actor')
        return
        ;;
    '--reason')
        return
        ;;
    esac
}

_mcrun_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __mcrun_offer_flags_options -1
}

complete -o filenames -F _mcrun mcrun

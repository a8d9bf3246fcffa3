/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd: the SFTP daemon (options, config, quickstart, daemonising). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

#include "berth/account.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/daemon.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/notify.h"
#include "berth/quickstart.h"
#include "berth/spawner.h"
#include "berth/sshd.h"
#include "berth/worker.h"
#include "berth/xmem.h"

#define DEFAULT_CONFIG BERTH_SYSCONFDIR "/berthd.conf"

static _noreturn_ void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	        "usage: berthd [-DdeTt] [-f config_file] [-p port]\n"
	        "       berthd --quickstart [DIR] [-p port] [--ftps-port port]\n"
	        "              [--ftps-implicit-port port] [-d]\n"
	        "\n"
	        "  -f FILE        configuration file (default %s)\n"
	        "  -t             check the configuration and exit (errors as file:line)\n"
	        "  -T             print the effective configuration and exit\n"
	        "  -D             stay in the foreground\n"
	        "  -e             log to stderr instead of syslog\n"
	        "  -d             debug logging (implies -D -e)\n"
	        "  -p PORT        listen on PORT (overrides Port)\n"
	        "  --quickstart   no config: state directory, demo account, SFTP on "
	        "127.0.0.1:%d,\n"
	        "                 FTPS on 127.0.0.1:%d (AUTH TLS) and :%d (implicit TLS)\n"
	        "  --ftps-port PORT, --ftps-implicit-port PORT\n"
	        "                 quickstart FTPS ports (0 = none)\n"
	        "  -V             print the version\n",
	        DEFAULT_CONFIG, QUICKSTART_PORT, QUICKSTART_FTPS_PORT,
	        QUICKSTART_FTPS_IMPLICIT_PORT);
	exit(code);
}

static int
write_pidfile(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	dprintf(fd, "%d\n", (int)getpid());
	close(fd);
	return 0;
}

static int
daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return chdir("/") < 0 ? -errno : 0;
}

static void
print_errors(const struct berth_errors *e)
{
	berth_errors_print(e, stderr);
}

/* -t: every problem with file:line; also try to load the host keys for real. */
static int
check_config(const struct berth_config *cfg)
{
	struct berth_errors errs = BERTH_ERRORS_NULL;
	int r = daemon_check_config(cfg, &errs);
	print_errors(&errs);
	berth_errors_free(&errs);
	return r != 0 ? 1 : 0;
}

/* Load the accounts file in a child and report its errors; true when it loads. */
static bool
accounts_file_loads(const char *path, const char *state_dir)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %m");
		return false;
	}
	if (pid == 0) {
		struct berth_errors errs = BERTH_ERRORS_NULL;
		struct berth_accounts *db = NULL;
		int r = berth_accounts_load(path, &db, &errs);
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		if (r < 0 || !db)
			log_error("AccountsFile %s: %s", path, r < 0 ? strerror(-r) : "invalid");
		else if ((r = berth_accounts_keep_last_good(path, state_dir)) < 0)
			log_error("StateDirectory %s: cannot keep the last good accounts file: %s",
			          state_dir, strerror(-r));
		_exit(r < 0 || !db ? 1 : 0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int
main(int argc, char **argv)
{
	/* Re-executed per session by the monitor, already as the account. */
	if (argc > 1 && WORKER_IS_MARK(argv[1]))
		return worker_exec_main(argc, argv);
	/* Exec'd once by the master: forks the workers from a clean image. */
	if (argc > 1 && strcmp(argv[1], SPAWNER_ARGV_MARK) == 0)
		return spawner_main(argc, argv);

	const char *config_path = NULL;
	bool test_only = false, dump = false, foreground = false, to_stderr = false, debug = false,
	     quickstart = false;
	const char *qs_dir = NULL;
	long port = 0, ftps_port = QUICKSTART_FTPS_PORT, ftps_iport = QUICKSTART_FTPS_IMPLICIT_PORT;
	static const struct option longopts[] = {
	        {"quickstart", no_argument, NULL, 'Q'},
	        {"ftps-port", required_argument, NULL, 'F'},
	        {"ftps-implicit-port", required_argument, NULL, 'I'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "f:tTDedp:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			config_path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'T':
			dump = true;
			break;
		case 'D':
			foreground = true;
			break;
		case 'e':
			to_stderr = true;
			break;
		case 'd':
			debug = foreground = to_stderr = true;
			break;
		case 'p': {
			char *end;
			port = strtol(optarg, &end, 10);
			if (*end || port <= 0 || port > 65535) {
				fprintf(stderr, "berthd: bad port %s\n", optarg);
				return 1;
			}
			break;
		}
		case 'Q':
			quickstart = true;
			break;
		case 'F':
		case 'I': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 65535) {
				fprintf(stderr, "berthd: bad port %s\n", optarg);
				return 1;
			}
			*(c == 'F' ? &ftps_port : &ftps_iport) = v;
			break;
		}
		case 'V':
			printf("berthd %s (libssh %s)\n", BERTH_VERSION, ssh_version(0));
			return 0;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (quickstart && optind < argc)
		qs_dir = argv[optind++];
	if (optind < argc)
		usage(1);
	if (quickstart && config_path) {
		fprintf(stderr, "berthd: --quickstart and -f are exclusive\n");
		return 1;
	}

	log_init("berthd", debug ? LOG_LEVEL_DEBUG1 : LOG_LEVEL_INFO, LOG_SINK_STDERR, LOG_AUTH);

	struct berth_config cfg;
	struct quickstart_info qi = {0};
	_cleanup_free_ char *qs_abs = NULL;
	if (quickstart) {
		if (qs_dir) {
			if (qs_dir[0] == '/') {
				qs_abs = xstrdup(qs_dir);
			} else {
				char cwd[4096];
				if (!getcwd(cwd, sizeof(cwd)))
					log_fatal(1, "getcwd: %m");
				qs_abs = xasprintf("%s/%s", cwd, qs_dir);
			}
		} else if (quickstart_default_dir(&qs_abs) < 0) {
			log_fatal(1, "cannot determine the state directory");
		}
		int r = quickstart_prepare(qs_abs, &qi);
		if (r < 0)
			log_fatal(1, "quickstart state directory %s: %s", qs_abs, strerror(-r));
		if (berth_config_quickstart(qs_abs, &cfg) < 0)
			log_fatal(1, "quickstart configuration failed");
		/* Loopback only, on the quickstart port. */
		for (size_t i = 0; i < cfg.n_listen; i++)
			free(cfg.listen[i].host);
		free(cfg.listen);
		cfg.listen = xcalloc(1, sizeof(*cfg.listen));
		cfg.listen[0].host = xstrdup(QUICKSTART_ADDR);
		cfg.listen[0].port = 0;
		cfg.n_listen = 1;
		cfg.port = QUICKSTART_PORT;
		/* FTPS beside SFTP, same account: AUTH TLS and implicit TLS, loopback only. */
		const long fports[2] = {ftps_port, ftps_iport};
		for (size_t i = 0; i < 2; i++) {
			if (!fports[i])
				continue;
			cfg.ftps_listen = xreallocarray(cfg.ftps_listen, cfg.n_ftps_listen + 1,
			                                sizeof(*cfg.ftps_listen));
			cfg.ftps_listen[cfg.n_ftps_listen++] = (struct berth_ftps_listen){
			        .host = xstrdup(QUICKSTART_ADDR),
			        .port = (uint16_t)fports[i],
			        .implicit = i == 1,
			};
		}
		cfg.ftps_cert_file = xasprintf("%s/%s", qs_abs, QUICKSTART_FTPS_CERT);
		cfg.ftps_key_file = xasprintf("%s/%s", qs_abs, QUICKSTART_FTPS_KEY);
		foreground = to_stderr = true;
	} else {
		struct berth_errors errs = BERTH_ERRORS_NULL;
		const char *path = config_path ? config_path : DEFAULT_CONFIG;
		int r = berth_config_load(path, &cfg, &errs);
		if (r != 0) {
			print_errors(&errs);
			berth_errors_free(&errs);
			if (!errs.n)
				fprintf(stderr, "berthd: %s: cannot load configuration\n", path);
			return 1;
		}
		berth_errors_free(&errs);
	}
	if (port)
		cfg.port = (uint16_t)port;

	if (dump) {
		berth_config_dump(&cfg, stdout);
		berth_config_free(&cfg);
		return 0;
	}
	if (test_only) {
		int r = check_config(&cfg);
		berth_config_free(&cfg);
		return r;
	}

	/* A SIGHUP before the master's handler is installed must not end it. */
	signal(SIGHUP, SIG_IGN);
	enum log_level level = debug ? LOG_LEVEL_DEBUG1 : (enum log_level)cfg.log_level;
	bool use_stderr = to_stderr || cfg.log_target == BERTH_LOG_TARGET_STDERR;
	log_init("berthd", level, use_stderr ? LOG_SINK_STDERR : LOG_SINK_SYSLOG,
	         cfg.syslog_facility);

	/* Check the accounts file now, for an early clear error, but in a throw-away child:
	 * the master's memory (inherited by every network child) never holds a hash.
	 * Each connection's monitor loads the file itself (src/priv/monitor.c). */
	if (cfg.accounts_file && !accounts_file_loads(cfg.accounts_file, cfg.state_directory))
		return 1;

	struct daemon_runtime rt;
	if (daemon_runtime_init(&rt, &cfg) < 0)
		return 1;
	rt.log_stderr = use_stderr;
	/* For SIGHUP: the same file and -p override again (quickstart does not reload). */
	rt.config_path = quickstart ? NULL : config_path ? config_path : DEFAULT_CONFIG;
	rt.port_override = (uint16_t)port;
	rt.debug = debug;
	if (berth_notify_init() < 0)
		log_error("NOTIFY_SOCKET: unusable address; not notifying the service manager");

	if (quickstart) {
		fprintf(stderr, "\n  berth quickstart\n  state directory: %s\n", qs_abs);
		fprintf(stderr, "  SFTP: sftp -P %u demo@%s\n", (unsigned)cfg.port,
		        QUICKSTART_ADDR);
		if (qi.created_account)
			fprintf(stderr,
			        "  password for demo: %s   (shown once; also saved in %s)\n",
			        qi.password, qi.password_file);
		else
			fprintf(stderr, "  password for demo: see %s\n", qi.password_file);
		fprintf(stderr, "  public keys for demo: %s/authorized_keys\n", qs_abs);
		if (ftps_port)
			fprintf(stderr,
			        "  FTPS: curl --ssl-reqd -k -u demo:PASSWORD ftp://%s:%ld/\n",
			        QUICKSTART_ADDR, ftps_port);
		if (ftps_iport)
			fprintf(stderr,
			        "  FTPS (implicit TLS): curl -k -u demo:PASSWORD ftps://%s:%ld/\n",
			        QUICKSTART_ADDR, ftps_iport);
		if (ftps_port || ftps_iport)
			fprintf(stderr,
			        "  FTPS certificate (self-signed) SHA-256 fingerprint:\n    %s\n",
			        qi.ftps_fingerprint);
		fputc('\n', stderr);
		explicit_bzero(qi.password, sizeof(qi.password));
	}
	free(qi.password_file);

	if (!foreground) {
		int r = daemonize();
		if (r < 0)
			log_fatal(1, "daemonize: %s", strerror(-r));
	}
	if (cfg.pid_file && !quickstart)
		(void)write_pidfile(cfg.pid_file);
	int r = daemon_run(&cfg, &rt);
	free(rt.privsep_chroot);
	if (cfg.pid_file && !quickstart)
		unlink(cfg.pid_file);
	berth_config_free(&cfg);
	return r < 0 ? 1 : 0;
}

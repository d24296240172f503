/*
 * kafka_broker: a Kafka-protocol broker on loopback for the tests and benchmarks, built on
 * librdkafka's mock cluster (rdkafka_mock.h). Real clients (our connector, kcat,
 * python3-confluent-kafka) talk to it over TCP like to any broker.
 *
 *   kafka_broker --port PORT [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Broker i (1..N) listens on 127.0.0.1:PORT+i-1, so a test knows the bootstrap address before
 * the broker runs (and can start a client while it does not). On start it prints
 * "bootstrap 127.0.0.1:PORT" and "ready". It then reads commands from stdin, one per line,
 * and answers each on stdout with "ok <command>" or "error <command>: <reason>":
 *
 *   topic NAME PARTITIONS   create a topic
 *   unknown NAME            answer metadata requests for topic NAME with "unknown topic or
 *                           partition", as a real broker does for a topic that does not exist
 *                           when the client disallows auto-creation (the mock cluster speaks an
 *                           old Metadata version without that flag and would create the topic)
 *   down                    disconnect every client and refuse connections (an outage)
 *   up                      accept connections again (the data is still there)
 *   fail API COUNT ERROR    answer the next COUNT requests of Kafka API key API (e.g. 24,
 *                           AddPartitionsToTxn) with error code ERROR (e.g. 14,
 *                           COORDINATOR_LOAD_IN_PROGRESS): a cluster that stalls one step
 *   clear API               forget the errors still pending for API key API
 *   quit                    exit (also at end of input, SIGTERM or SIGINT)
 *
 * The mock cluster binds its listeners to port 0 (an ephemeral port). To get fixed ports this
 * program defines bind() itself: the dynamic linker resolves librdkafka's call to it, and it
 * forwards to the C library's bind() with port 0 replaced by the next fixed port.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static int next_port = 0; /* the port the next listener gets; 0: leave it to the kernel */

/* bind() with a fixed port for loopback listeners that asked for any port (see above). */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (next_port > 0 && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, addr, sizeof(sin));
        if (sin.sin_port == 0 && sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            sin.sin_port = htons((uint16_t)next_port++);
            return real_bind(fd, (const struct sockaddr *)&sin, sizeof(sin));
        }
    }
    return real_bind(fd, addr, len);
}

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void usage(void) {
    fprintf(stderr, "usage: kafka_broker --port PORT [--brokers N] [--topic NAME:PARTITIONS]...\n");
    exit(2);
}

/* Creates topic NAME with PARTITIONS partitions; prints the outcome. */
static void create_topic(rd_kafka_mock_cluster_t *cluster, const char *name, int partitions,
                         const char *command) {
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, name, partitions, 1);
    if (err)
        printf("error %s: %s\n", command, rd_kafka_err2str(err));
    else
        printf("ok %s\n", command);
}

int main(int argc, char **argv) {
    int port = 0, brokers = 1;
    const char *topics[64];
    int ntopics = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc && ntopics < 64)
            topics[ntopics++] = argv[++i];
        else
            usage();
    }
    if (port <= 0 || port > 65535 - brokers || brokers < 1) usage();
    setvbuf(stdout, NULL, _IOLBF, 0);

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_broker: %s\n", errstr);
        return 1;
    }
    next_port = port;
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, brokers);
    next_port = 0;
    if (!cluster) {
        fprintf(stderr, "kafka_broker: could not start the mock cluster on port %d\n", port);
        return 1;
    }
    for (int i = 0; i < ntopics; i++) {
        char name[256];
        const char *colon = strrchr(topics[i], ':');
        if (!colon || colon == topics[i] || (size_t)(colon - topics[i]) >= sizeof(name)) usage();
        memcpy(name, topics[i], (size_t)(colon - topics[i]));
        name[colon - topics[i]] = '\0';
        create_topic(cluster, name, atoi(colon + 1), topics[i]);
    }
    printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
    printf("ready\n");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char line[1024];
    while (!stop && fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char name[256];
        int partitions, api, count, code;
        if (!strcmp(line, "quit")) {
            printf("ok quit\n");
            break;
        } else if (!strcmp(line, "down")) {
            rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(cluster, -1);
            printf(err ? "error %s: failed\n" : "ok %s\n", line);
        } else if (!strcmp(line, "up")) {
            rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(cluster, -1);
            printf(err ? "error %s: failed\n" : "ok %s\n", line);
        } else if (sscanf(line, "fail %d %d %d", &api, &count, &code) == 3 && count > 0) {
            rd_kafka_resp_err_t *errors = malloc(sizeof(*errors) * (size_t)count);
            for (int i = 0; i < count; i++) errors[i] = (rd_kafka_resp_err_t)code;
            rd_kafka_mock_push_request_errors_array(cluster, (int16_t)api, (size_t)count, errors);
            free(errors);
            printf("ok %s\n", line);
        } else if (sscanf(line, "clear %d", &api) == 1) {
            rd_kafka_mock_clear_request_errors(cluster, (int16_t)api);
            printf("ok %s\n", line);
        } else if (sscanf(line, "unknown %255s", name) == 1) {
            rd_kafka_mock_topic_set_error(cluster, name, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
            printf("ok %s\n", line);
        } else if (sscanf(line, "topic %255s %d", name, &partitions) == 2) {
            create_topic(cluster, name, partitions, line);
        } else if (line[0] != '\0') {
            printf("error %s: unknown command\n", line);
        }
    }
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(rk);
    return 0;
}
